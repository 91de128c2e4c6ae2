pub mod diagnostic;
pub mod interpolate;
pub mod merge;
pub mod units;
pub mod yaml;
