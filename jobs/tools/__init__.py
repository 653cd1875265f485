"""Commands' data work that is not a pipeline stage: dedup and PII evaluation, the inspection
report. Same layer as the stages (they may use the stages' Spark helpers)."""
