//! wdq-onnx integration tests (one binary): round trips of the fixture
//! models, malformed input, external data, opset conversion snapshots.

mod integration {
    pub mod common;
    mod convert;
    mod external;
    mod fuzz;
    mod inline_if;
    mod malformed;
    mod round_trip;
}
