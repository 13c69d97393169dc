// Prints what serde_json (canonical JSON as the reference computes it) and the semver crate make
// of the corpus inputs, one JSON line per case: {"id", "canonical"|"error"} / {"id", "semver_ok"}.
use serde_json::Value;
fn canonicalize(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by_key(|(k, _)| *k);
            Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), canonicalize(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonicalize).collect()),
        other => other.clone(),
    }
}
fn main() {
    let dir = std::env::args().nth(1).expect("corpus dir");
    let canon: Value = serde_json::from_str(&std::fs::read_to_string(format!("{dir}/canonical-json.json")).unwrap()).unwrap();
    for c in canon["cases"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let text = c["input"].as_str().unwrap();
        match serde_json::from_str::<Value>(text) {
            Ok(v) => println!("{}", serde_json::json!({"id": id, "canonical": serde_json::to_string(&canonicalize(&v)).unwrap()})),
            Err(e) => println!("{}", serde_json::json!({"id": id, "error": e.to_string()})),
        }
    }
    let desc: Value = serde_json::from_str(&std::fs::read_to_string(format!("{dir}/descriptors.json")).unwrap()).unwrap();
    for c in desc["cases"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let input = c["input"].as_str().unwrap();
        let mut parts = input.splitn(2, '@');
        let _path = parts.next();
        let ok = parts.next().map(|v| semver::Version::parse(v).is_ok());
        println!("{}", serde_json::json!({"id": id, "semver_ok": ok}));
    }
}
