//! The action state machine of units and copies, as pure functions.
//!
//! ```text
//! unit:  queued ─prepare→ prepared ─(all copies verified)→ verified ─(archive: jukebox ingest)→ ingested
//!                                                          └──────────(user)──────────────┐       │
//!                                                                                      cleanup ←──┘ → cleaned
//! copy:  pending ─start→ writing ─written→ written ─verified→ verified
//!           ↑______________|  fail/crash      |________↑ verify failed: rewrite (pending)
//! any state but cleaned ─rollback→ rolled_back
//! ```
//! The runner asks these functions for every transition it makes, inside the transaction that
//! records it, so an impossible transition (a late result for a rolled-back copy, a copy verified
//! twice) is refused instead of corrupting the catalogue.

use std::fmt;

/// State of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitState {
    Queued,
    Prepared,
    Verified,
    Ingested,
    Cleaned,
    RolledBack,
}

/// State of a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CopyState {
    Pending,
    Writing,
    Written,
    Verified,
    RolledBack,
}

/// What happens to a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitEvent {
    Prepared,
    AllCopiesVerified,
    JukeboxIngested,
    CleanedUp,
    RollBack,
}

/// What happens to a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyEvent {
    StartWrite,
    Written,
    Verified,
    /// The write or verification failed, or the process died mid-write: write it again.
    Failed,
    RollBack,
}

/// A transition the state machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} cannot go from {from} on {event}")]
pub struct Illegal {
    pub what: &'static str,
    pub from: String,
    pub event: String,
}

fn illegal(what: &'static str, from: impl fmt::Debug, event: impl fmt::Debug) -> Illegal {
    Illegal { what, from: format!("{from:?}"), event: format!("{event:?}") }
}

impl UnitState {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitState::Queued => "queued",
            UnitState::Prepared => "prepared",
            UnitState::Verified => "verified",
            UnitState::Ingested => "ingested",
            UnitState::Cleaned => "cleaned",
            UnitState::RolledBack => "rolled_back",
        }
    }

    pub fn parse(s: &str) -> Option<UnitState> {
        Some(match s {
            "queued" => UnitState::Queued,
            "prepared" => UnitState::Prepared,
            "verified" => UnitState::Verified,
            "ingested" => UnitState::Ingested,
            "cleaned" => UnitState::Cleaned,
            "rolled_back" => UnitState::RolledBack,
            _ => return None,
        })
    }

    /// Can a request holding a unit in this state still be rolled back?
    pub fn can_roll_back(self) -> bool {
        !matches!(self, UnitState::Cleaned | UnitState::RolledBack)
    }

    /// Is the unit ready for cleanup (every required step done)?
    pub fn ready_for_cleanup(self, archive: bool) -> bool {
        match self {
            UnitState::Ingested => true,
            UnitState::Verified => !archive,
            _ => false,
        }
    }
}

impl CopyState {
    pub fn as_str(self) -> &'static str {
        match self {
            CopyState::Pending => "pending",
            CopyState::Writing => "writing",
            CopyState::Written => "written",
            CopyState::Verified => "verified",
            CopyState::RolledBack => "rolled_back",
        }
    }

    pub fn parse(s: &str) -> Option<CopyState> {
        Some(match s {
            "pending" => CopyState::Pending,
            "writing" => CopyState::Writing,
            "written" => CopyState::Written,
            "verified" => CopyState::Verified,
            "rolled_back" => CopyState::RolledBack,
            _ => return None,
        })
    }
}

/// Next state of a unit. `archive` says whether it belongs to an archive request; `copies` are
/// the states of its copies (checked for `AllCopiesVerified`).
pub fn unit_next(from: UnitState, event: UnitEvent, archive: bool, copies: &[CopyState]) -> Result<UnitState, Illegal> {
    use UnitEvent as E;
    use UnitState as S;
    let to = match (from, event) {
        (S::Queued, E::Prepared) => S::Prepared,
        (S::Prepared, E::AllCopiesVerified) if !copies.is_empty() && copies.iter().all(|c| *c == CopyState::Verified) => {
            S::Verified
        }
        (S::Verified, E::JukeboxIngested) if archive => S::Ingested,
        (s, E::CleanedUp) if s.ready_for_cleanup(archive) => S::Cleaned,
        (s, E::RollBack) if s.can_roll_back() => S::RolledBack,
        (s, e) => return Err(illegal("unit", s, e)),
    };
    Ok(to)
}

/// Next state of a copy of a unit in state `unit`.
pub fn copy_next(from: CopyState, event: CopyEvent, unit: UnitState) -> Result<CopyState, Illegal> {
    use CopyEvent as E;
    use CopyState as S;
    let to = match (from, event) {
        (S::Pending, E::StartWrite) if unit == UnitState::Prepared => S::Writing,
        (S::Writing, E::Written) => S::Written,
        (S::Written, E::Verified) => S::Verified,
        (S::Writing | S::Written, E::Failed) => S::Pending,
        // Copies are rolled back only with their unit (`unit` is the unit's new state).
        (s, E::RollBack) if s != S::RolledBack && unit == UnitState::RolledBack => S::RolledBack,
        (s, e) => return Err(illegal("copy", s, e)),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A unit with its copies, driven only through `unit_next`/`copy_next`.
    #[derive(Debug, Clone)]
    struct Model {
        archive: bool,
        unit: UnitState,
        copies: Vec<CopyState>,
    }

    #[derive(Debug, Clone)]
    enum Step {
        Unit(UnitEvent),
        Copy(usize, CopyEvent),
        Crash,
    }

    impl Model {
        fn apply(&mut self, step: &Step) -> bool {
            match step {
                Step::Unit(e) => match unit_next(self.unit, *e, self.archive, &self.copies) {
                    Ok(s) => {
                        if *e == UnitEvent::RollBack {
                            for c in &mut self.copies {
                                *c = copy_next(*c, CopyEvent::RollBack, s).unwrap_or(*c);
                            }
                        }
                        self.unit = s;
                        true
                    }
                    Err(_) => false,
                },
                Step::Copy(i, e) => {
                    let i = i % self.copies.len();
                    match copy_next(self.copies[i], *e, self.unit) {
                        Ok(s) => {
                            self.copies[i] = s;
                            true
                        }
                        Err(_) => false,
                    }
                }
                Step::Crash => {
                    // What recovery does after a crash: interrupted writes are written again.
                    for c in &mut self.copies {
                        if *c == CopyState::Writing {
                            *c = copy_next(*c, CopyEvent::Failed, self.unit).unwrap_or(*c);
                        }
                    }
                    true
                }
            }
        }
    }

    fn step() -> impl Strategy<Value = Step> {
        let unit_event = prop_oneof![
            Just(UnitEvent::Prepared),
            Just(UnitEvent::AllCopiesVerified),
            Just(UnitEvent::JukeboxIngested),
            Just(UnitEvent::CleanedUp),
            Just(UnitEvent::RollBack),
        ];
        let copy_event = prop_oneof![
            Just(CopyEvent::StartWrite),
            Just(CopyEvent::Written),
            Just(CopyEvent::Verified),
            Just(CopyEvent::Failed),
            Just(CopyEvent::RollBack),
        ];
        prop_oneof![
            3 => unit_event.prop_map(Step::Unit),
            6 => (0usize..4, copy_event).prop_map(|(i, e)| Step::Copy(i, e)),
            1 => Just(Step::Crash),
        ]
    }

    proptest! {
        #[test]
        fn invariants_hold_on_any_sequence(archive: bool, n in 1usize..4, steps in prop::collection::vec(step(), 0..60)) {
            let mut m = Model { archive, unit: UnitState::Queued, copies: vec![CopyState::Pending; n] };
            for s in &steps {
                let before = m.clone();
                let applied = m.apply(s);
                // Terminal states are terminal.
                if matches!(before.unit, UnitState::Cleaned | UnitState::RolledBack) {
                    prop_assert_eq!(before.unit, m.unit);
                    prop_assert!(!applied || matches!(s, Step::Crash | Step::Copy(..)));
                }
                // A unit is verified or later only when every copy is verified.
                if matches!(m.unit, UnitState::Verified | UnitState::Ingested | UnitState::Cleaned) {
                    prop_assert!(m.copies.iter().all(|c| *c == CopyState::Verified), "{:?}", m);
                }
                // Nothing is written before the unit is prepared.
                if m.unit == UnitState::Queued {
                    prop_assert!(m.copies.iter().all(|c| *c == CopyState::Pending), "{:?}", m);
                }
                // Cleanup of an archive unit only after jukebox ingest.
                if m.unit == UnitState::Cleaned && before.unit != UnitState::Cleaned && archive {
                    prop_assert_eq!(before.unit, UnitState::Ingested);
                }
                // Rolled back means every copy rolled back.
                if m.unit == UnitState::RolledBack {
                    prop_assert!(m.copies.iter().all(|c| *c == CopyState::RolledBack), "{:?}", m);
                }
            }
            // Rollback is possible from every state before cleanup.
            let mut r = m.clone();
            let rolled = r.apply(&Step::Unit(UnitEvent::RollBack));
            prop_assert_eq!(rolled, m.unit.can_roll_back());
        }
    }

    #[test]
    fn happy_path_of_an_archive_unit() {
        let mut u = UnitState::Queued;
        let mut c = [CopyState::Pending; 2];
        u = unit_next(u, UnitEvent::Prepared, true, &c).unwrap();
        for copy in &mut c {
            for e in [CopyEvent::StartWrite, CopyEvent::Written, CopyEvent::Verified] {
                *copy = copy_next(*copy, e, u).unwrap();
            }
        }
        u = unit_next(u, UnitEvent::AllCopiesVerified, true, &c).unwrap();
        assert!(unit_next(u, UnitEvent::CleanedUp, true, &c).is_err(), "archive units go to the jukebox first");
        u = unit_next(u, UnitEvent::JukeboxIngested, true, &c).unwrap();
        u = unit_next(u, UnitEvent::CleanedUp, true, &c).unwrap();
        assert_eq!(u, UnitState::Cleaned);
        assert!(unit_next(u, UnitEvent::RollBack, true, &c).is_err());
    }

    #[test]
    fn a_late_result_for_a_rolled_back_copy_is_refused() {
        assert!(copy_next(CopyState::RolledBack, CopyEvent::Written, UnitState::RolledBack).is_err());
        assert!(copy_next(CopyState::Verified, CopyEvent::Verified, UnitState::Prepared).is_err());
    }
}
