//! [`Report`]: a run's result, printed as one JSON line with its fields in a fixed order.

use serde_json::Value;

/// A run's result: named values in the order they were added.
#[derive(Debug, Clone, Default)]
pub struct Report {
    fields: Vec<(&'static str, Value)>,
}

impl Report {
    /// An empty report.
    pub fn new() -> Report {
        Report::default()
    }

    /// Add (or replace) a field.
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        let value = value.into();
        match self.fields.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.fields.push((key, value)),
        }
    }

    /// A field's value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// A field as an unsigned integer (`None` when missing, null or not one).
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(Value::as_u64)
    }

    /// A field as a number.
    pub fn f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }

    /// The one-line JSON object.
    pub fn to_line(&self) -> String {
        let mut line = String::from("{");
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(&Value::from(*k).to_string());
            line.push(':');
            line.push_str(&v.to_string());
        }
        line.push('}');
        line
    }
}

/// A number rounded to `places` decimals (for rates and ratios in the line).
pub(crate) fn round(x: f64, places: i32) -> Value {
    let f = 10f64.powi(places);
    let r = (x * f).round() / f;
    serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_replaces() {
        let mut r = Report::new();
        r.set("z", 1);
        r.set("a", "x");
        r.set("z", 2);
        r.set("f", round(1.23456, 2));
        r.set("n", Value::Null);
        assert_eq!(r.to_line(), r#"{"z":2,"a":"x","f":1.23,"n":null}"#);
        assert_eq!(r.u64("z"), Some(2));
        assert_eq!(r.f64("f"), Some(1.23));
        assert_eq!(r.u64("n"), None);
    }
}
