//! `Exit`: what the process exit code means (documented in the README).

/// The outcome of a command, as an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: every flow passed (or: the scenario is valid, the mock ended cleanly).
    Passed,
    /// 1: some flow or check failed.
    Failed,
    /// 2: usage or scenario error.
    Usage,
    /// 3: the tool could not run (target unreachable, cannot bind, cannot write results).
    Error,
    /// 4: a threshold was breached (the run itself went through).
    Breached,
    /// 5: `compare` (or `run --baseline`) found a regression against the baseline.
    Regressed,
}

impl Exit {
    /// Every exit, ascending by code (the README's exit-code table lists each).
    pub const ALL: [Exit; 6] = [
        Exit::Passed,
        Exit::Failed,
        Exit::Usage,
        Exit::Error,
        Exit::Breached,
        Exit::Regressed,
    ];

    pub fn code(self) -> i32 {
        match self {
            Exit::Passed => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Error => 3,
            Exit::Breached => 4,
            Exit::Regressed => 5,
        }
    }

    pub fn from_code(code: i32) -> Exit {
        match code {
            0 => Exit::Passed,
            1 => Exit::Failed,
            2 => Exit::Usage,
            4 => Exit::Breached,
            5 => Exit::Regressed,
            _ => Exit::Error,
        }
    }
}
