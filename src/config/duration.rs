//! Durations written the way operators write them: `90s`, `2m`, `24h`, `7d`, `1h30m`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub const fn secs(s: u64) -> Self {
        HumanDuration(Duration::from_secs(s))
    }
    pub fn as_secs(&self) -> u64 {
        self.0.as_secs()
    }
    pub fn chrono(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }
}

impl FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = "a duration like 90s, 2m, 24h, 7d or 1h30m";
        let s = s.trim();
        if s.is_empty() {
            return Err(format!("empty duration, expected {expected}"));
        }
        if s == "0" {
            return Ok(HumanDuration(Duration::ZERO));
        }
        let mut total: u64 = 0;
        let mut digits = String::new();
        let mut saw_unit = false;
        for c in s.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86400,
                _ => return Err(format!("unknown unit {c:?} in {s:?}, expected {expected}")),
            };
            let n: u64 = digits.parse().map_err(|_| format!("missing number before {c:?} in {s:?}, expected {expected}"))?;
            total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(|| format!("duration {s:?} is too large"))?;
            digits.clear();
            saw_unit = true;
        }
        if !digits.is_empty() || !saw_unit {
            return Err(format!("missing unit in {s:?}, expected {expected}"));
        }
        Ok(HumanDuration(Duration::from_secs(total)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.0.as_secs();
        if s == 0 {
            return write!(f, "0s");
        }
        for (unit, len) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
            if s >= len {
                write!(f, "{}{}", s / len, unit)?;
                s %= len;
            }
        }
        Ok(())
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!("90s".parse::<HumanDuration>().unwrap().as_secs(), 90);
        assert_eq!("2m".parse::<HumanDuration>().unwrap().as_secs(), 120);
        assert_eq!("24h".parse::<HumanDuration>().unwrap().as_secs(), 86400);
        assert_eq!("1h30m".parse::<HumanDuration>().unwrap().as_secs(), 5400);
        assert_eq!("0".parse::<HumanDuration>().unwrap().as_secs(), 0);
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in ["", "10", "m", "5x", "1.5h", "-1s"] {
            assert!(bad.parse::<HumanDuration>().is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn displays_round_trip() {
        for s in ["90s", "2m", "1d", "1h30m"] {
            let d: HumanDuration = s.parse().unwrap();
            assert_eq!(d.to_string().parse::<HumanDuration>().unwrap(), d);
        }
        assert_eq!(HumanDuration::secs(5400).to_string(), "1h30m");
    }
}
