// SPDX-License-Identifier: GPL-2.0

//! What an enforced ruleset restricts: the `landlock` crate's answer to
//! `restrict_self` ([`Outcome`]: how much it enforced, on which ABI), and
//! the one line a launcher logs for it ([`Report`]).
//!
//! A plan asks for [`crate::TARGET_ABI`]'s rights; the crate enforces those
//! the running kernel knows (best effort) and says whether that was all of
//! them. The report names what the agent is actually under, from what was
//! asked and the ABI it was enforced with, so it is computed here without
//! the kernel and tested for every ABI.

use landlock::{
    Access, AccessFs, AccessNet, BitFlags, RestrictionStatus, RulesetStatus, Scope, ABI,
};
use std::fmt;

/// How much of the ruleset the kernel enforces (the crate's
/// `RulesetStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// All that was asked for.
    Full,
    /// What the kernel's Landlock ABI supports: less than was asked for.
    Partial,
    /// Nothing: no Landlock, or none of the rights asked for.
    Not,
}

/// What `restrict_self` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The ABI it was enforced with: the running kernel's, or the newest
    /// the crate knows if the kernel's is newer; `ABI::Unsupported`
    /// without Landlock (not built in, or not in `lsm=`).
    pub abi: ABI,
    /// How much of the ruleset is in force.
    pub enforcement: Enforcement,
}

impl Outcome {
    /// Whether the kernel has Landlock at all.
    pub fn landlock(&self) -> bool {
        self.abi != ABI::Unsupported
    }

    /// Two bytes, for a child that enforced the ruleset to tell its parent
    /// (asmd's report pipe): the ABI number and the enforcement.
    pub fn to_bytes(self) -> [u8; 2] {
        let enforcement = match self.enforcement {
            Enforcement::Full => 1,
            Enforcement::Partial => 2,
            Enforcement::Not => 3,
        };
        [abi_number(self.abi) as u8, enforcement]
    }

    /// What [`Self::to_bytes`] made; `None` for bytes it does not make.
    pub fn from_bytes(bytes: [u8; 2]) -> Option<Self> {
        let enforcement = match bytes[1] {
            1 => Enforcement::Full,
            2 => Enforcement::Partial,
            3 => Enforcement::Not,
            _ => return None,
        };
        // An ABI number the crate itself gave: the conversion the crate
        // keeps for tests is exact for those.
        let abi = ABI::from(i32::from(bytes[0]));
        (abi_number(abi) == u32::from(bytes[0])).then_some(Self { abi, enforcement })
    }
}

impl From<&RestrictionStatus> for Outcome {
    fn from(status: &RestrictionStatus) -> Self {
        Self {
            abi: status.landlock.into(),
            enforcement: match status.ruleset {
                RulesetStatus::FullyEnforced => Enforcement::Full,
                RulesetStatus::PartiallyEnforced => Enforcement::Partial,
                RulesetStatus::NotEnforced => Enforcement::Not,
            },
        }
    }
}

/// What a ruleset asked for, as the report needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Asked {
    /// The filesystem is restricted.
    pub(crate) fs: bool,
    /// How many path rules were added.
    pub(crate) fs_rules: usize,
    /// The network rights restricted.
    pub(crate) net: BitFlags<AccessNet>,
    /// The scopes.
    pub(crate) scoped: BitFlags<Scope>,
}

/// What the agent runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The ABI the ruleset was enforced with.
    pub abi: ABI,
    /// How much of what was asked for is in force.
    pub enforcement: Enforcement,
    /// File accesses outside the rules are refused.
    pub fs_restricted: bool,
    /// How many path rules were added (system paths that do not exist are
    /// left out).
    pub fs_rules: usize,
    /// Every TCP `connect()` is refused (no NetClient).
    pub tcp_connect_denied: bool,
    /// Every TCP `bind()` is refused (no NetServer).
    pub tcp_bind_denied: bool,
    /// Signals to processes outside the sandbox are refused (`EPERM`).
    pub signals_scoped: bool,
    /// Connecting or sending to an abstract UNIX socket made outside the
    /// sandbox is refused (`EPERM`).
    pub abstract_unix_scoped: bool,
}

impl Report {
    /// What of `asked` is in force after `outcome`: each part that the
    /// ABI knows, unless nothing was enforced.
    pub(crate) fn new(asked: &Asked, outcome: Outcome) -> Self {
        let abi = outcome.abi;
        let live = outcome.enforcement != Enforcement::Not;
        let net = asked.net & AccessNet::from_all(abi);
        let scoped = asked.scoped & Scope::from_all(abi);
        let fs_restricted = live && asked.fs && !AccessFs::from_all(abi).is_empty();
        Self {
            abi,
            enforcement: outcome.enforcement,
            fs_restricted,
            fs_rules: if fs_restricted { asked.fs_rules } else { 0 },
            tcp_connect_denied: live && net.contains(AccessNet::ConnectTcp),
            tcp_bind_denied: live && net.contains(AccessNet::BindTcp),
            signals_scoped: live && scoped.contains(Scope::Signal),
            abstract_unix_scoped: live && scoped.contains(Scope::AbstractUnixSocket),
        }
    }

    /// Whether any network access is restricted.
    pub fn net_restricted(&self) -> bool {
        self.tcp_connect_denied || self.tcp_bind_denied
    }
}

impl fmt::Display for Report {
    /// One line for a log, e.g. "Landlock ABI 6, fully enforced:
    /// filesystem restricted (15 rules), TCP connect denied, TCP bind
    /// allowed, signals scoped, abstract unix sockets scoped".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.abi == ABI::Unsupported {
            return write!(f, "no Landlock in the running kernel: nothing enforced");
        }
        let how = match self.enforcement {
            Enforcement::Full => "fully",
            Enforcement::Partial => "partially",
            Enforcement::Not => "not",
        };
        write!(f, "Landlock ABI {}, {how} enforced: ", abi_number(self.abi))?;
        if self.fs_restricted {
            write!(f, "filesystem restricted ({} rules)", self.fs_rules)?;
        } else {
            write!(f, "filesystem not restricted")?;
        }
        let said = |on, yes, no| if on { yes } else { no };
        if AccessNet::from_all(self.abi).is_empty() {
            write!(f, ", network not restricted (needs ABI 4)")?;
        } else {
            write!(
                f,
                ", TCP connect {}, TCP bind {}",
                said(self.tcp_connect_denied, "denied", "allowed"),
                said(self.tcp_bind_denied, "denied", "allowed")
            )?;
        }
        if Scope::from_all(self.abi).is_empty() {
            write!(
                f,
                ", signals and abstract unix sockets not scoped (needs ABI 6)"
            )
        } else {
            write!(
                f,
                ", signals {}, abstract unix sockets {}",
                said(self.signals_scoped, "scoped", "not scoped"),
                said(self.abstract_unix_scoped, "scoped", "not scoped")
            )
        }
    }
}

/// The version number of `abi`, as the kernel counts.
fn abi_number(abi: ABI) -> u32 {
    abi as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(fs: bool, net: BitFlags<AccessNet>) -> Asked {
        Asked {
            fs,
            fs_rules: 14,
            net,
            scoped: Scope::Signal | Scope::AbstractUnixSocket,
        }
    }

    fn report(asked: &Asked, abi: ABI, enforcement: Enforcement) -> Report {
        Report::new(asked, Outcome { abi, enforcement })
    }

    #[test]
    fn abi_6_enforces_everything_asked() {
        let r = report(
            &asked(true, AccessNet::ConnectTcp.into()),
            ABI::V6,
            Enforcement::Full,
        );
        assert_eq!(
            r.to_string(),
            "Landlock ABI 6, fully enforced: filesystem restricted (14 rules), \
             TCP connect denied, TCP bind allowed, signals scoped, abstract unix sockets scoped"
        );
        assert!(r.net_restricted() && r.signals_scoped && r.abstract_unix_scoped);
        // Newer ABIs add nothing ASM asks for.
        assert_eq!(
            report(
                &asked(true, AccessNet::ConnectTcp.into()),
                ABI::V7,
                Enforcement::Full
            ),
            Report { abi: ABI::V7, ..r }
        );
        // Scopes only: an agent with every capability and no scope.
        let r = report(&asked(false, BitFlags::EMPTY), ABI::V6, Enforcement::Full);
        assert!(!r.fs_restricted && !r.net_restricted() && r.signals_scoped);
        assert_eq!(
            r.to_string(),
            "Landlock ABI 6, fully enforced: filesystem not restricted, \
             TCP connect allowed, TCP bind allowed, signals scoped, abstract unix sockets scoped"
        );
    }

    #[test]
    fn older_abis_get_what_they_know() {
        let all_net = AccessNet::ConnectTcp | AccessNet::BindTcp;
        let r = report(&asked(true, all_net), ABI::V5, Enforcement::Partial);
        assert!(r.fs_restricted && r.tcp_connect_denied && r.tcp_bind_denied);
        assert!(!r.signals_scoped && !r.abstract_unix_scoped);
        assert_eq!(
            r.to_string(),
            "Landlock ABI 5, partially enforced: filesystem restricted (14 rules), \
             TCP connect denied, TCP bind denied, \
             signals and abstract unix sockets not scoped (needs ABI 6)"
        );
        let r = report(&asked(true, all_net), ABI::V3, Enforcement::Partial);
        assert!(r.fs_restricted && !r.net_restricted() && !r.signals_scoped);
        assert_eq!(
            r.to_string(),
            "Landlock ABI 3, partially enforced: filesystem restricted (14 rules), \
             network not restricted (needs ABI 4), \
             signals and abstract unix sockets not scoped (needs ABI 6)"
        );
        // Nothing asked that ABI 3 knows: nothing enforced.
        let r = report(&asked(false, all_net), ABI::V3, Enforcement::Not);
        assert!(!r.fs_restricted && r.fs_rules == 0 && !r.net_restricted());
        assert!(r.to_string().starts_with(
            "Landlock ABI 3, not enforced: filesystem not restricted, network not restricted"
        ));
    }

    #[test]
    fn outcome_survives_its_two_bytes() {
        for abi in [ABI::Unsupported, ABI::V1, ABI::V5, ABI::V6, ABI::V10] {
            for enforcement in [Enforcement::Full, Enforcement::Partial, Enforcement::Not] {
                let o = Outcome { abi, enforcement };
                assert_eq!(Outcome::from_bytes(o.to_bytes()), Some(o), "{o:?}");
            }
        }
        assert_eq!(
            Outcome::from_bytes([6, 1]),
            Some(Outcome {
                abi: ABI::V6,
                enforcement: Enforcement::Full
            })
        );
        assert_eq!(Outcome::from_bytes([6, 0]), None);
        assert_eq!(Outcome::from_bytes([6, 4]), None);
        assert_eq!(Outcome::from_bytes([200, 1]), None);
    }

    #[test]
    fn without_landlock_nothing_is_enforced() {
        let outcome = Outcome {
            abi: ABI::Unsupported,
            enforcement: Enforcement::Not,
        };
        assert!(!outcome.landlock());
        let r = Report::new(&asked(true, AccessNet::BindTcp.into()), outcome);
        assert!(!r.fs_restricted && !r.net_restricted() && !r.signals_scoped);
        assert_eq!(
            r.to_string(),
            "no Landlock in the running kernel: nothing enforced"
        );
    }
}
