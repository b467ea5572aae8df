//! Consumed capacity as AWS computes it: reads in 4 KB units (halved when eventually
//! consistent), writes in 1 KB units, transactions doubled.

use nephos_core::Value;

pub fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.max(1).div_ceil(4096) as f64;
    if consistent { units } else { units / 2.0 }
}

pub fn write_units(size: usize) -> f64 {
    size.max(1).div_ceil(1024) as f64
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Read,
    Write,
}

/// Accumulated capacity of one table within a request.
#[derive(Debug, Clone, Default)]
pub struct Consumed {
    pub table: f64,
    pub gsi: Vec<(String, f64)>,
    pub lsi: Vec<(String, f64)>,
}

impl Consumed {
    pub fn add_index(&mut self, name: &str, global: bool, units: f64) {
        let list = if global { &mut self.gsi } else { &mut self.lsi };
        match list.iter_mut().find(|x| x.0 == name) {
            Some(x) => x.1 += units,
            None => list.push((name.to_owned(), units)),
        }
    }

    /// The `ConsumedCapacity` member for `ReturnConsumedCapacity` (None for NONE).
    pub fn to_value(&self, mode: Option<&str>, table: &str, kind: Kind) -> Option<Value> {
        let unit_key = match kind {
            Kind::Read => "ReadCapacityUnits",
            Kind::Write => "WriteCapacityUnits",
        };
        let total = self.table
            + self.gsi.iter().map(|x| x.1).sum::<f64>()
            + self.lsi.iter().map(|x| x.1).sum::<f64>();
        let cap = |u: f64| Value::map().with(unit_key, u).with("CapacityUnits", u);
        match mode {
            Some("TOTAL") => Some(cap(total).with("TableName", table)),
            Some("INDEXES") => {
                let mut v = cap(total)
                    .with("TableName", table)
                    .with("Table", cap(self.table));
                for (key, list) in [
                    ("GlobalSecondaryIndexes", &self.gsi),
                    ("LocalSecondaryIndexes", &self.lsi),
                ] {
                    if !list.is_empty() {
                        let mut m = Value::map();
                        for (n, u) in list {
                            m.insert(n, cap(*u));
                        }
                        v.insert(key, m);
                    }
                }
                Some(v)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(read_units(0, true), 1.0);
        assert_eq!(read_units(4096, false), 0.5);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(write_units(1025), 2.0);
    }
}
