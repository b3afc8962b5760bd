//! Which conditions are worth retrying, and for how long.
//!
//! Real drives and libraries answer "unit attention" after a reset, a load or door activity,
//! "becoming ready" for seconds to minutes after a load, a move or an inventory, and some IBM
//! libraries enter a vendor "pause mode" (02/04/85). These are retried; everything else is
//! reported at once. The classes follow what production tape software does (CERN CTA's changer
//! code, Bareos' `mtx-changer` waits). Only idempotent commands (TEST UNIT READY, INQUIRY, MODE
//! SENSE, READ ELEMENT STATUS, …) go through the retry loop; data commands never do.

use std::time::Duration;

use super::sense::{Sense, SenseKey};

/// How a failed command should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// Unit attention: report the event and retry at once.
    UnitAttention,
    /// The unit is becoming ready: wait a moment and retry.
    BecomingReady,
    /// Vendor pause mode: wait long and retry many times.
    VendorPause,
    /// Do not retry.
    Fatal,
}

/// Classify a sense.
pub fn classify(sense: &Sense) -> RetryClass {
    match (sense.key, sense.asc, sense.ascq) {
        (SenseKey::UnitAttention, _, _) => RetryClass::UnitAttention,
        (SenseKey::NotReady, 0x04, 0x85) => RetryClass::VendorPause,
        (SenseKey::NotReady, 0x04, 0x00 | 0x01) => RetryClass::BecomingReady,
        (SenseKey::NoSense, 0x30, 0x03) => RetryClass::BecomingReady,
        _ => RetryClass::Fatal,
    }
}

/// Limits of the retry loop.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Unit attentions absorbed per command (st absorbs up to 10).
    pub max_unit_attentions: u32,
    /// Pause between "becoming ready" retries.
    pub becoming_ready_interval: Duration,
    /// Give up on "becoming ready" after this long (loads can take minutes).
    pub becoming_ready_limit: Duration,
    /// Pause between vendor-pause retries.
    pub pause_interval: Duration,
    /// Vendor-pause retries before giving up.
    pub max_pause_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_unit_attentions: 10,
            becoming_ready_interval: Duration::from_secs(1),
            becoming_ready_limit: Duration::from_secs(300),
            pause_interval: Duration::from_secs(60),
            max_pause_retries: 900,
        }
    }
}

impl RetryPolicy {
    /// No waiting at all (simulators that are ready at once, and tests).
    pub fn immediate() -> Self {
        RetryPolicy {
            max_unit_attentions: 10,
            becoming_ready_interval: Duration::ZERO,
            becoming_ready_limit: Duration::ZERO,
            pause_interval: Duration::ZERO,
            max_pause_retries: 3,
        }
    }

    /// Given the class of the latest failure and the attempts so far, how long to wait before the
    /// next attempt, or `None` to give up.
    pub fn next_delay(&self, class: RetryClass, state: &mut RetryState) -> Option<Duration> {
        match class {
            RetryClass::Fatal => None,
            RetryClass::UnitAttention => {
                state.unit_attentions += 1;
                (state.unit_attentions <= self.max_unit_attentions).then_some(Duration::ZERO)
            }
            RetryClass::BecomingReady => {
                let attempts = if self.becoming_ready_interval.is_zero() {
                    3
                } else {
                    u32::try_from(self.becoming_ready_limit.as_millis() / self.becoming_ready_interval.as_millis()).unwrap_or(u32::MAX)
                };
                state.becoming_ready += 1;
                (state.becoming_ready <= attempts).then_some(self.becoming_ready_interval)
            }
            RetryClass::VendorPause => {
                state.pauses += 1;
                (state.pauses <= self.max_pause_retries).then_some(self.pause_interval)
            }
        }
    }
}

/// Attempts made so far for one command.
#[derive(Debug, Default, Clone)]
pub struct RetryState {
    pub unit_attentions: u32,
    pub becoming_ready: u32,
    pub pauses: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(classify(&Sense::new(SenseKey::UnitAttention, 0x29, 0)), RetryClass::UnitAttention);
        assert_eq!(classify(&Sense::new(SenseKey::NotReady, 0x04, 0x01)), RetryClass::BecomingReady);
        assert_eq!(classify(&Sense::new(SenseKey::NotReady, 0x04, 0x85)), RetryClass::VendorPause);
        assert_eq!(classify(&Sense::new(SenseKey::NotReady, 0x3a, 0)), RetryClass::Fatal);
        assert_eq!(classify(&Sense::new(SenseKey::NotReady, 0x04, 0x03)), RetryClass::Fatal);
        assert_eq!(classify(&Sense::new(SenseKey::IllegalRequest, 0x24, 0)), RetryClass::Fatal);
    }

    #[test]
    fn unit_attentions_are_bounded() {
        let p = RetryPolicy::default();
        let mut s = RetryState::default();
        for _ in 0..10 {
            assert_eq!(p.next_delay(RetryClass::UnitAttention, &mut s), Some(Duration::ZERO));
        }
        assert_eq!(p.next_delay(RetryClass::UnitAttention, &mut s), None);
    }

    #[test]
    fn becoming_ready_gives_up_after_the_limit() {
        let p = RetryPolicy { becoming_ready_interval: Duration::from_secs(10), becoming_ready_limit: Duration::from_secs(30), ..RetryPolicy::default() };
        let mut s = RetryState::default();
        let delays: Vec<_> = std::iter::from_fn(|| p.next_delay(RetryClass::BecomingReady, &mut s)).take(10).collect();
        assert_eq!(delays.len(), 3);
    }

    #[test]
    fn vendor_pause_is_bounded() {
        let p = RetryPolicy::immediate();
        let mut s = RetryState::default();
        let n = std::iter::from_fn(|| p.next_delay(RetryClass::VendorPause, &mut s)).take(100).count();
        assert_eq!(n, 3);
    }
}
