//! Training: logistic regression by AdaGrad stochastic gradient descent with L2 regularisation,
//! deterministic to the byte.
//!
//! Determinism comes from fixing everything that could vary: the examples are read in the
//! caller's order, shuffled by a small hand-written SplitMix64 generator from a fixed seed (a
//! generator whose stream is defined here, not by a crate version), the epoch count is fixed,
//! and every sum runs in f64 in the same order. The same examples and settings therefore give
//! the same weights and, after quantisation, the same file.

use super::features::FeatureConfig;
use super::{Model, Vector, vectorize};

/// One labelled comment.
#[derive(Clone, Copy, Debug)]
pub struct Example<'a> {
    /// The comment text.
    pub body: &'a str,
    /// The author's name.
    pub author: &'a str,
    /// Whether it is spam.
    pub spam: bool,
}

/// How to train.
#[derive(Clone, Copy, Debug)]
pub struct TrainConfig {
    /// Passes over the data.
    pub epochs: u32,
    /// AdaGrad's base step.
    pub learning_rate: f64,
    /// L2 penalty per update, applied to the weights an example touches.
    pub l2: f64,
    /// Seed of the shuffle.
    pub seed: u64,
    /// The features.
    pub features: FeatureConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            learning_rate: 0.2,
            l2: 1e-6,
            seed: 20_260_101,
            features: FeatureConfig::default(),
        }
    }
}

/// Where training is, for a progress line.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// The epoch just finished (1-based); 0 while the features are being read.
    pub epoch: u32,
    /// Of how many.
    pub epochs: u32,
    /// Mean log loss over that epoch's examples.
    pub loss: f64,
}

/// SplitMix64: a tiny generator with a fixed, documented output stream.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number below `n` (n > 0); the slight modulo bias does not matter for a shuffle.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z.clamp(-40.0, 40.0)).exp())
}

/// Trains a model. `progress` is called once per epoch.
pub fn train(
    examples: &[Example<'_>],
    config: &TrainConfig,
    progress: &mut dyn FnMut(Progress),
) -> Model {
    let fc = config.features;
    let data: Vec<(Vector, f64)> = examples
        .iter()
        .map(|e| {
            (
                vectorize(&fc, e.body, e.author),
                if e.spam { 1.0 } else { 0.0 },
            )
        })
        .collect();
    progress(Progress {
        epoch: 0,
        epochs: config.epochs,
        loss: 0.0,
    });
    let n = fc.buckets();
    let mut w = vec![0f64; n];
    let mut g2 = vec![0f64; n];
    let (mut bias, mut gb2) = (0f64, 0f64);
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut rng = SplitMix(config.seed);
    for epoch in 1..=config.epochs {
        // Fisher–Yates.
        for i in (1..order.len()).rev() {
            let j = rng.below(i + 1);
            order.swap(i, j);
        }
        let mut loss = 0.0;
        for &k in &order {
            let (v, y) = &data[k];
            let mut z = bias;
            for &(i, x) in &v.entries {
                z += w[i as usize] * x;
            }
            let p = sigmoid(z);
            loss -= if *y > 0.5 {
                p.max(1e-12).ln()
            } else {
                (1.0 - p).max(1e-12).ln()
            };
            let err = p - y;
            for &(i, x) in &v.entries {
                let i = i as usize;
                let g = err * x + config.l2 * w[i];
                g2[i] += g * g;
                w[i] -= config.learning_rate * g / g2[i].sqrt().max(1e-12);
            }
            gb2 += err * err;
            bias -= config.learning_rate * err / gb2.sqrt().max(1e-12);
        }
        progress(Progress {
            epoch,
            epochs: config.epochs,
            loss: loss / data.len().max(1) as f64,
        });
    }
    quantise(fc, bias, &w)
}

/// i16 weights with one scale: a quarter of the f32 size, and 16 bits keep the largest weight
/// to about 1/30,000 of itself, far below what moves a probability.
fn quantise(config: FeatureConfig, bias: f64, w: &[f64]) -> Model {
    let max = w.iter().fold(0f64, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 32767.0 } else { 0.0 };
    let weights = w
        .iter()
        .map(|x| {
            if scale > 0.0 {
                (x / scale).round().clamp(-32767.0, 32767.0) as i16
            } else {
                0
            }
        })
        .collect();
    Model {
        config,
        bias: bias as f32,
        scale: scale as f32,
        weights,
    }
}
