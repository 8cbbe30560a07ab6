//! Cron schedules: 5-field (minute precision) or 6-field (seconds) expressions.

use std::fmt;

#[derive(Debug, Clone)]
pub struct CronSchedule {
    /// Normalised to 6 fields (seconds first), as tokio-cron-scheduler wants.
    pub six_field: String,
}

impl CronSchedule {
    pub fn parse(expr: &str) -> Result<CronSchedule, ScheduleError> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let six_field = match fields.len() {
            5 => format!("0 {}", fields.join(" ")),
            6 => fields.join(" "),
            n => {
                return Err(ScheduleError(format!(
                    "{expr:?} has {n} fields, expected 5 (minute hour day month weekday) or 6 (with seconds first)"
                )))
            }
        };
        croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .build()
            .parse(&six_field)
            .map_err(|e| ScheduleError(format!("{expr:?} is not a valid cron expression ({e})")))?;
        Ok(CronSchedule { six_field })
    }
}

#[derive(Debug, Clone)]
pub struct ScheduleError(pub String);

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
