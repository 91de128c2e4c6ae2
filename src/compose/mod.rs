pub mod diagnostic;
pub mod interpolate;
pub mod load;
pub mod merge;
pub mod model;
pub mod units;
pub mod validate;
pub mod yaml;
