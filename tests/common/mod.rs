//! Shared by the native and the browser tests: the committed weights, the ten sample digits
//! from `../shared/datasets/digits`, and the reference outputs both must reproduce.
#![allow(dead_code)]

/// The committed MNIST weights.
pub const WEIGHTS: &[u8] = include_bytes!("../../models/mnist/model.bpk");

/// Native CPU probabilities for the sample digits, written by `BLESS=1 cargo test --test native`.
pub const REFERENCE_JSON: &str = include_str!("../fixtures/digits_reference.json");

/// Largest absolute difference allowed between any two backends' probabilities.
pub const TOLERANCE: f32 = 1e-4;

macro_rules! digit {
    ($file:literal, $label:literal) => {
        ($file, $label, include_bytes!(concat!("../../../shared/datasets/digits/", $file)) as &[u8])
    };
}

/// (file name, true label, PNG bytes).
pub const DIGITS: [(&str, u8, &[u8]); 10] = [
    digit!("mnist_test_0003_label0.png", 0),
    digit!("mnist_test_0002_label1.png", 1),
    digit!("mnist_test_0001_label2.png", 2),
    digit!("mnist_test_0018_label3.png", 3),
    digit!("mnist_test_0004_label4.png", 4),
    digit!("mnist_test_0008_label5.png", 5),
    digit!("mnist_test_0011_label6.png", 6),
    digit!("mnist_test_0000_label7.png", 7),
    digit!("mnist_test_0061_label8.png", 8),
    digit!("mnist_test_0007_label9.png", 9),
];

/// Grey levels of a 28x28 8-bit greyscale PNG, scaled to `0..=1`.
pub fn decode_digit(png_bytes: &[u8]) -> Vec<f32> {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("sample digit is a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).expect("sample digit decodes");
    assert_eq!((frame.width, frame.height), (28, 28));
    assert_eq!(frame.color_type, png::ColorType::Grayscale);
    buf[..frame.buffer_size()].iter().map(|&p| p as f32 / 255.0).collect()
}

/// All ten digits as one batch, in label order.
pub fn digit_batch() -> Vec<f32> {
    DIGITS.iter().flat_map(|(_, _, bytes)| decode_digit(bytes)).collect()
}

/// Reference probabilities, `10 * 10` values in label order.
pub fn reference() -> Vec<f32> {
    let value: serde_json::Value = serde_json::from_str(REFERENCE_JSON).expect("fixture is JSON");
    DIGITS
        .iter()
        .flat_map(|(file, _, _)| {
            value["digits"][file]
                .as_array()
                .unwrap_or_else(|| panic!("fixture lacks {file}"))
                .iter()
                .map(|v| v.as_f64().expect("probability") as f32)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Index of the largest value in each row of 10.
pub fn argmax_rows(probs: &[f32]) -> Vec<u8> {
    probs.chunks(10).map(|row| row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i as u8).unwrap()).collect()
}
