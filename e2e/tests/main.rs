//! End-to-end scenarios against a real API server, controller-manager and scheduler
//! (kwok nodes make pods Ready). See e2e/README.md for what the cluster is and is not.

mod harness;
mod stack;

mod admission;
mod behaviour;
mod chart;
mod cli;
mod conformance;
mod lifecycle;
mod operations;
mod real_node;
mod scale;
