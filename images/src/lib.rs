//! Media images for asto: what goes on a medium, produced as a stream.
//!
//! Everything asto writes must be readable in decades by tools nobody here wrote: ISO 9660 with
//! Rock Ridge and Joliet for optical media, pax tar in fixed-size records for tape. The exact
//! size of an image is planned before its first byte is written, so capacity is checked up
//! front and the image can be streamed to a device with no copy on disk.
