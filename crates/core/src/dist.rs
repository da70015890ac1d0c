//! Parametric distributions as scenarios write them (`{ dist = "lognormal",
//! median = 450, p99 = 2500 }`) and their sampling.
//!
//! Lognormal is given by its median and 99th percentile because that is what
//! operators know of a provider's latency or a workload's token counts; the
//! parameters follow: mu = ln(median), sigma = ln(p99 / median) / z(0.99).

use rand::Rng;
use rand_distr::StandardNormal;
use std::fmt;

/// z such that P(Z < z) = 0.99 for a standard normal.
const Z_P99: f64 = 2.326_347_874_040_841;

/// A distribution over non-negative reals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    /// Always the same value.
    Fixed(f64),
    /// Uniform on `[min, max]`.
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Normal, truncated at zero.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// Lognormal by median and 99th percentile.
    LogNormal {
        /// ln(median).
        mu: f64,
        /// Shape.
        sigma: f64,
    },
    /// Exponential by its mean.
    Exponential {
        /// Mean.
        mean: f64,
    },
}

/// Why distribution parameters were refused.
#[derive(Clone, Debug, PartialEq)]
pub struct DistError(pub String);

impl fmt::Display for DistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Dist {
    /// Lognormal from median and p99; needs `0 < median <= p99`.
    pub fn lognormal(median: f64, p99: f64) -> Result<Dist, DistError> {
        if !(median > 0.0 && median.is_finite()) {
            return Err(DistError(format!("median must be greater than 0, found {median}")));
        }
        if !(p99 >= median && p99.is_finite()) {
            return Err(DistError(format!("p99 must be at least the median ({median}), found {p99}")));
        }
        Ok(Dist::LogNormal { mu: median.ln(), sigma: (p99 / median).ln() / Z_P99 })
    }

    /// Normal; needs `sd >= 0`.
    pub fn normal(mean: f64, sd: f64) -> Result<Dist, DistError> {
        if !(sd >= 0.0 && sd.is_finite() && mean.is_finite()) {
            return Err(DistError(format!("sd must be 0 or more, found {sd}")));
        }
        Ok(Dist::Normal { mean, sd })
    }

    /// Uniform; needs `0 <= min <= max`.
    pub fn uniform(min: f64, max: f64) -> Result<Dist, DistError> {
        if !(min >= 0.0 && max >= min && max.is_finite()) {
            return Err(DistError(format!("expected 0 <= min <= max, found min = {min}, max = {max}")));
        }
        Ok(Dist::Uniform { min, max })
    }

    /// One draw, never negative.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Dist::Fixed(v) => v,
            Dist::Uniform { min, max } => {
                if max > min {
                    rng.random_range(min..=max)
                } else {
                    min
                }
            }
            Dist::Normal { mean, sd } => {
                let z: f64 = rng.sample(StandardNormal);
                (mean + sd * z).max(0.0)
            }
            Dist::LogNormal { mu, sigma } => {
                let z: f64 = rng.sample(StandardNormal);
                (mu + sigma * z).exp()
            }
            Dist::Exponential { mean } => {
                // Inverse CDF on (0, 1]: never ln(0).
                let u: f64 = 1.0 - rng.random::<f64>();
                -mean * u.ln()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Streams;

    fn quantile(mut v: Vec<f64>, q: f64) -> f64 {
        v.sort_by(f64::total_cmp);
        v[((v.len() as f64 - 1.0) * q).round() as usize]
    }

    #[test]
    fn lognormal_hits_median_and_p99_within_3_percent() {
        let d = Dist::lognormal(450.0, 2500.0).unwrap();
        for seed in 0..5 {
            let mut rng = Streams::from_seed(seed).stream("t");
            let v: Vec<f64> = (0..40_000).map(|_| d.sample(&mut rng)).collect();
            let (m, p) = (quantile(v.clone(), 0.5), quantile(v, 0.99));
            assert!((m / 450.0 - 1.0).abs() < 0.03, "median {m}");
            assert!((p / 2500.0 - 1.0).abs() < 0.08, "p99 {p}");
        }
    }

    #[test]
    fn normal_is_truncated_at_zero_and_centered() {
        let d = Dist::normal(90.0, 15.0).unwrap();
        let mut rng = Streams::from_seed(1).stream("t");
        let v: Vec<f64> = (0..20_000).map(|_| d.sample(&mut rng)).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean - 90.0).abs() < 0.5, "mean {mean}");
        let z = Dist::normal(0.0, 10.0).unwrap();
        assert!((0..1000).all(|_| z.sample(&mut rng) >= 0.0));
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(Dist::lognormal(0.0, 10.0).is_err());
        assert!(Dist::lognormal(100.0, 10.0).is_err());
        assert!(Dist::normal(1.0, -1.0).is_err());
        assert!(Dist::uniform(5.0, 1.0).is_err());
    }
}
