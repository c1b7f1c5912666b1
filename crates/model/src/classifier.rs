//! Every architecture this build contains, behind one type: the runtime, the CLI and the tests
//! pick one by its manifest id, load weight bytes into it and get class probabilities back.

use burn::prelude::*;

use crate::cpu_plan::{CpuPlan, PlanError};
use crate::mnist::{InputError, MnistCnn, MNIST_CLASSES, MNIST_SIDE};
use crate::mnist_cpu::MnistCpu;
use crate::squeezenet::{squeezenet_probabilities, SqueezeNet, SQUEEZENET_ARCHITECTURE, SQUEEZENET_CLASSES, SQUEEZENET_SIDE};
use crate::squeezenet_cpu::SqueezeNetCpu;
use crate::weights::{load_mnist, load_squeezenet, WeightsError, MNIST_ARCHITECTURE};

/// A model architecture compiled into this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    MnistCnn,
    SqueezeNet1_1,
}

impl Architecture {
    /// Every architecture of this build.
    pub const ALL: [Architecture; 2] = [Architecture::MnistCnn, Architecture::SqueezeNet1_1];

    /// From the manifest's `architecture` id.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.id() == id)
    }

    /// The manifest id.
    pub fn id(self) -> &'static str {
        match self {
            Architecture::MnistCnn => MNIST_ARCHITECTURE,
            Architecture::SqueezeNet1_1 => SQUEEZENET_ARCHITECTURE,
        }
    }

    /// Shape of one example: `[channels, height, width]`.
    pub fn input_shape(self) -> [usize; 3] {
        match self {
            Architecture::MnistCnn => [1, MNIST_SIDE, MNIST_SIDE],
            Architecture::SqueezeNet1_1 => [3, SQUEEZENET_SIDE, SQUEEZENET_SIDE],
        }
    }

    /// Values per example.
    pub fn input_len(self) -> usize {
        self.input_shape().iter().product()
    }

    /// Output classes.
    pub fn classes(self) -> usize {
        match self {
            Architecture::MnistCnn => MNIST_CLASSES,
            Architecture::SqueezeNet1_1 => SQUEEZENET_CLASSES,
        }
    }
}

/// A loaded model of any architecture.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per session, never moved in a hot path
pub enum Classifier {
    Mnist(MnistCnn),
    SqueezeNet(Box<SqueezeNet>),
}

impl Classifier {
    /// Decodes weight bytes for `architecture` on `device`.
    pub fn load(architecture: Architecture, weights: &[u8], device: &Device) -> Result<Self, WeightsError> {
        Ok(match architecture {
            Architecture::MnistCnn => Classifier::Mnist(load_mnist(weights, device)?),
            Architecture::SqueezeNet1_1 => Classifier::SqueezeNet(Box::new(load_squeezenet(weights, device)?)),
        })
    }

    pub fn architecture(&self) -> Architecture {
        match self {
            Classifier::Mnist(_) => Architecture::MnistCnn,
            Classifier::SqueezeNet(_) => Architecture::SqueezeNet1_1,
        }
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        match self {
            Classifier::Mnist(m) => m.num_params(),
            Classifier::SqueezeNet(m) => m.num_params(),
        }
    }

    /// Class probabilities `[batch, classes]` for an input batch of the architecture's shape.
    pub fn probabilities(&self, input: Tensor<4>) -> Tensor<2> {
        match self {
            Classifier::Mnist(m) => m.probabilities(input),
            Classifier::SqueezeNet(m) => squeezenet_probabilities(m, input),
        }
    }

    /// A `[batch, c, h, w]` tensor from flat planar values, checking length and values.
    pub fn input(&self, values: &[f32], device: &Device) -> Result<Tensor<4>, InputError> {
        input_tensor(values, self.architecture().input_shape(), device)
    }

    /// The network on burn-edge's CPU kernels, for architectures that have a plan (every
    /// architecture of this build has one; an imported model without one runs on Burn's).
    pub fn cpu_plan(&self) -> Result<Option<CpuPlan>, PlanError> {
        Ok(Some(match self {
            Classifier::Mnist(m) => CpuPlan::Mnist(Box::new(MnistCpu::from_model(m)?)),
            Classifier::SqueezeNet(m) => CpuPlan::SqueezeNet(Box::new(SqueezeNetCpu::from_model(m)?)),
        }))
    }
}

/// A `[batch, c, h, w]` tensor from flat planar values of whole `[c, h, w]` examples.
pub fn input_tensor(values: &[f32], shape: [usize; 3], device: &Device) -> Result<Tensor<4>, InputError> {
    let batch = check_input(values, shape)?;
    let [c, h, w] = shape;
    let data = TensorData::new(values.to_vec(), [batch, c, h, w]);
    Ok(Tensor::from_data(data, device))
}

/// The batch size of flat planar values of whole `[c, h, w]` examples, all finite.
pub fn check_input(values: &[f32], [c, h, w]: [usize; 3]) -> Result<usize, InputError> {
    let per = c * h * w;
    if values.is_empty() {
        return Err(InputError::Empty { per, shape: [c, h, w] });
    }
    if !values.len().is_multiple_of(per) {
        return Err(InputError::NotWholeExamples { len: values.len(), per, shape: [c, h, w] });
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(InputError::NotFinite(i));
    }
    Ok(values.len() / per)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_unknown_ids_are_none() {
        for a in Architecture::ALL {
            assert_eq!(Architecture::from_id(a.id()), Some(a));
        }
        assert_eq!(Architecture::from_id("resnet50"), None);
        assert_eq!(Architecture::SqueezeNet1_1.input_len(), 3 * 224 * 224);
    }

    #[test]
    fn squeezenet_weights_of_the_wrong_architecture_are_refused() {
        let device = Device::flex();
        let mnist = crate::MnistConfig::new().with_conv1_channels(2).with_conv2_channels(3).with_hidden(4);
        let bytes = crate::save_to_bytes(&mnist.init(&device), &mnist).unwrap();
        let err = Classifier::load(Architecture::SqueezeNet1_1, &bytes, &device).unwrap_err().to_string();
        assert_eq!(err, "weights are for architecture \"mnist-cnn\", but this runtime expected \"squeezenet1.1\"");
        assert!(matches!(Classifier::load(Architecture::SqueezeNet1_1, b"junk", &device), Err(WeightsError::NotBurnpack(_))));
    }

    #[test]
    fn squeezenet_round_trips_through_burnpack_reproducibly() {
        let device = Device::flex();
        let model = SqueezeNet::new(&device);
        let bytes = crate::save_squeezenet(&model).unwrap();
        let Classifier::SqueezeNet(loaded) = Classifier::load(Architecture::SqueezeNet1_1, &bytes, &device).unwrap() else {
            unreachable!()
        };
        assert_eq!(crate::save_squeezenet(&loaded).unwrap(), bytes);
        let classifier = Classifier::SqueezeNet(loaded);
        let probs = classifier.probabilities(classifier.input(&vec![1.0; 2 * 3 * 224 * 224], &device).unwrap());
        assert_eq!(probs.dims(), [2, 1000]);
    }
}
