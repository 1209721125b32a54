//! The worker's memory budget for analyses (`BAYKO_MEMORY_BUDGET_MIB`).
//!
//! An analysis holds at most [`BYTES_PER_INPUT_BYTE`] × its input's size at its peak (the
//! bound `bayko/tests/analysers_memory.rs` measures). Before it starts, it reserves that much of
//! the budget, waiting while other analyses hold it; one that could never fit is refused with
//! its reason instead of taking the worker down.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ToolError;

/// Most bytes an analysis holds at once per byte of its input.
pub const BYTES_PER_INPUT_BYTE: u64 = 24;

/// What an analysis holds besides its table: its report, its copy of the input.
const FIXED_BYTES: u64 = 1 << 20;

/// The budget is counted in KiB, so that a semaphore's `u32` permits reach 4 TiB.
const UNIT: u64 = 1024;

#[derive(Debug)]
pub struct MemoryBudget {
    units: Arc<Semaphore>,
    total_units: u32,
}

impl MemoryBudget {
    pub fn new(bytes: u64) -> Self {
        let total_units = u32::try_from(bytes / UNIT).unwrap_or(u32::MAX).max(1);
        Self {
            units: Arc::new(Semaphore::new(total_units as usize)),
            total_units,
        }
    }

    /// Reserves what an analysis of `input_bytes` may hold, until the permit is dropped.
    pub async fn reserve(&self, input_bytes: usize) -> Result<OwnedSemaphorePermit, ToolError> {
        let bytes = (input_bytes as u64)
            .saturating_mul(BYTES_PER_INPUT_BYTE)
            .saturating_add(FIXED_BYTES);
        let units = u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX);
        if units > self.total_units {
            return Err(ToolError::terminal(format!(
                "the analysis of {input_bytes} bytes may need {} MiB, more than the worker's \
                 memory budget for analyses ({} MiB, BAYKO_MEMORY_BUDGET_MIB)",
                bytes.div_ceil(1 << 20),
                (u64::from(self.total_units) * UNIT) >> 20
            )));
        }
        Arc::clone(&self.units)
            .acquire_many_owned(units)
            .await
            .map_err(|_| ToolError::terminal("the memory budget was closed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn analyses_wait_for_the_budget_and_too_large_ones_are_refused() {
        let budget = MemoryBudget::new(64 << 20);
        // 2 MiB of input reserves 49 MiB: a second one waits for the first.
        let first = budget.reserve(2 << 20).await.unwrap();
        let second = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            budget.reserve(2 << 20),
        )
        .await;
        assert!(second.is_err(), "the second analysis should wait");
        drop(first);
        assert!(budget.reserve(2 << 20).await.is_ok());
        // 4 MiB would need 97 MiB: never.
        let refused = budget.reserve(4 << 20).await.unwrap_err();
        assert!(
            matches!(&refused, ToolError::Terminal(m) if m.contains("memory budget")),
            "{refused}"
        );
    }
}
