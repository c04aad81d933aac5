//! End-to-end: alerts (being written).
