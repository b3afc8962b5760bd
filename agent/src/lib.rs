//! The asto agent: executes actions (prepare, write a copy, verify) on a media host's devices and
//! reports back. The appliance default embeds it in the controller process.
