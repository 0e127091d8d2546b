//! Any body submitted as an order, read as the API reads it: never a panic; an order
//! that is read and passes every check is written and read back unchanged.
#![no_main]

use kontor_model::{Order, Validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let mut reader = serde_json::Deserializer::from_slice(body);
    let Ok(order) = serde_path_to_error::deserialize::<_, Order>(&mut reader) else {
        return;
    };
    if order.validate().is_err() || kontor_model::submission::check(&order).is_err() {
        return;
    }
    let _ = order.computed_totals();
    let written = serde_json::to_string(&order).expect("an order is written");
    let again: Order = serde_json::from_str(&written).expect("a written order reads back");
    assert_eq!(again, order);
});
