//! From a raw [`CommandOutcome`] to a typed result: GOOD (and sense that only reports a recovered
//! condition) is success with the number of bytes transferred; anything else becomes a
//! [`ScsiError`] that carries the decoded sense. [`execute_with_retry`] adds the retry policy for
//! idempotent commands.

use std::time::Duration;

use super::retry::{RetryPolicy, RetryState, classify};
use super::sense::{Sense, SenseError, SenseKey};
use super::transport::{CommandOutcome, DataTransfer, ScsiStatus, ScsiTransport, TransportError};

/// A command that did not complete successfully.
#[derive(Debug, thiserror::Error)]
pub enum ScsiError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{device}: {sense}")]
    Check { device: String, sense: Sense },
    #[error("{device}: CHECK CONDITION with undecodable sense: {error}")]
    BadSense { device: String, error: SenseError },
    #[error("{device}: CHECK CONDITION without sense data")]
    NoSense { device: String },
    #[error("{device}: malformed {what} reply: {detail}")]
    BadData { device: String, what: &'static str, detail: String },
    #[error("{device}: device answered status {status:?}")]
    Status { device: String, status: ScsiStatus },
}

impl ScsiError {
    /// The sense of a CHECK CONDITION, if that is what this is.
    pub fn sense(&self) -> Option<&Sense> {
        match self {
            ScsiError::Check { sense, .. } => Some(sense),
            _ => None,
        }
    }

    /// Is this a CHECK CONDITION with `key`/`asc`/`ascq`?
    pub fn is(&self, key: SenseKey, asc: u8, ascq: u8) -> bool {
        self.sense().is_some_and(|s| s.is(key, asc, ascq))
    }
}

/// Interpret an outcome: `Ok(bytes transferred)` or the error.
pub fn interpret(device: &str, len: usize, outcome: CommandOutcome) -> Result<usize, ScsiError> {
    let transferred = len.saturating_sub(outcome.residual);
    match outcome.status {
        ScsiStatus::Good | ScsiStatus::ConditionMet => Ok(transferred),
        ScsiStatus::CheckCondition => {
            if outcome.sense.is_empty() {
                return Err(ScsiError::NoSense { device: device.to_string() });
            }
            let sense = Sense::decode(&outcome.sense)
                .map_err(|error| ScsiError::BadSense { device: device.to_string(), error })?;
            let benign = matches!(sense.key, SenseKey::NoSense | SenseKey::RecoveredError)
                && !sense.filemark && !sense.eom && !sense.ili && !sense.deferred;
            if benign {
                if sense.key == SenseKey::RecoveredError {
                    tracing::debug!(device, asc = sense.asc, ascq = sense.ascq, "recovered error");
                }
                return Ok(transferred);
            }
            Err(ScsiError::Check { device: device.to_string(), sense })
        }
        status => Err(ScsiError::Status { device: device.to_string(), status }),
    }
}

/// Run one command once.
pub fn execute(
    transport: &mut dyn ScsiTransport,
    cdb: &[u8],
    data: DataTransfer<'_>,
    timeout: Duration,
) -> Result<usize, ScsiError> {
    let len = data.len();
    let outcome = transport.execute(cdb, data, timeout)?;
    interpret(&transport.device_name(), len, outcome)
}

/// Run an idempotent command, retrying unit attentions, "becoming ready", vendor pause and BUSY
/// as `policy` allows. Unit attentions seen on the way are passed to `on_unit_attention` (a tape
/// driver must learn that its position was lost).
pub fn execute_with_retry(
    transport: &mut dyn ScsiTransport,
    policy: &RetryPolicy,
    cdb: &[u8],
    mut data: DataTransfer<'_>,
    timeout: Duration,
    on_unit_attention: &mut dyn FnMut(&Sense),
) -> Result<usize, ScsiError> {
    let mut state = RetryState::default();
    loop {
        let err = match execute(transport, cdb, data.reborrow(), timeout) {
            Ok(n) => return Ok(n),
            Err(e) => e,
        };
        let class = match &err {
            ScsiError::Check { sense, .. } => {
                let class = classify(sense);
                if class == super::retry::RetryClass::UnitAttention {
                    on_unit_attention(sense);
                }
                class
            }
            ScsiError::Status { status: ScsiStatus::Busy, .. } => super::retry::RetryClass::BecomingReady,
            _ => return Err(err),
        };
        match policy.next_delay(class, &mut state) {
            Some(delay) => {
                tracing::debug!(device = %transport.device_name(), opcode = cdb.first().copied().unwrap_or(0), ?class, ?delay, "retrying SCSI command");
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
            }
            None => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers a fixed script of outcomes, then GOOD.
    struct Scripted(Vec<CommandOutcome>, usize);

    impl ScsiTransport for Scripted {
        fn execute(&mut self, _cdb: &[u8], _data: DataTransfer<'_>, _t: Duration) -> Result<CommandOutcome, TransportError> {
            self.1 += 1;
            Ok(if self.0.is_empty() { CommandOutcome::good() } else { self.0.remove(0) })
        }
        fn device_name(&self) -> String {
            "scripted".into()
        }
    }

    fn check(key: SenseKey, asc: u8, ascq: u8) -> CommandOutcome {
        CommandOutcome::check(Sense::new(key, asc, ascq).to_fixed_bytes(), 0)
    }

    #[test]
    fn unit_attention_then_becoming_ready_then_good() {
        let mut t = Scripted(vec![check(SenseKey::UnitAttention, 0x29, 0), check(SenseKey::NotReady, 4, 1)], 0);
        let mut seen = Vec::new();
        let n = execute_with_retry(&mut t, &RetryPolicy::immediate(), &[0; 6], DataTransfer::None, Duration::from_secs(1), &mut |s| seen.push(s.asc)).unwrap();
        assert_eq!(n, 0);
        assert_eq!(t.1, 3);
        assert_eq!(seen, vec![0x29]);
    }

    #[test]
    fn fatal_sense_is_not_retried() {
        let mut t = Scripted(vec![check(SenseKey::NotReady, 0x3a, 0)], 0);
        let err = execute_with_retry(&mut t, &RetryPolicy::immediate(), &[0; 6], DataTransfer::None, Duration::from_secs(1), &mut |_| {}).unwrap_err();
        assert!(err.is(SenseKey::NotReady, 0x3a, 0));
        assert_eq!(t.1, 1);
    }

    #[test]
    fn endless_pause_gives_up() {
        let mut t = Scripted((0..20).map(|_| check(SenseKey::NotReady, 4, 0x85)).collect(), 0);
        let err = execute_with_retry(&mut t, &RetryPolicy::immediate(), &[0; 6], DataTransfer::None, Duration::from_secs(1), &mut |_| {}).unwrap_err();
        assert!(err.is(SenseKey::NotReady, 4, 0x85));
        assert_eq!(t.1, 4);
    }

    #[test]
    fn recovered_error_is_success_and_residual_counts() {
        let mut t = Scripted(vec![CommandOutcome { residual: 10, ..check(SenseKey::RecoveredError, 0x00, 0x17) }], 0);
        let mut buf = [0u8; 64];
        assert_eq!(execute(&mut t, &[0; 6], DataTransfer::FromDevice(&mut buf), Duration::from_secs(1)).unwrap(), 54);
    }
}
