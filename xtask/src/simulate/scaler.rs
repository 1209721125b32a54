//! ECS service auto scaling with a target-tracking policy, as Application Auto Scaling runs it:
//! two CloudWatch alarms (high: above the target for `scale_out_periods` datapoints in a row;
//! low: under 90 % of it for `scale_in_periods`), a proportional new capacity
//! (`ceil(current × metric ÷ target)`), cooldowns, and the service's min and max.

/// The policy's knobs: what terraform sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ScalingPolicy {
    /// Backlog per task to hold.
    pub target: f64,
    /// Seconds after a scale-out before another one (scale-in waits for it too).
    pub scale_out_cooldown: f64,
    /// Seconds after a scale-in before another one.
    pub scale_in_cooldown: f64,
    /// Datapoints above the target before the high alarm fires (AWS creates it with 3).
    pub scale_out_periods: u32,
    /// Datapoints under 90 % of the target before the low alarm fires (AWS: 15).
    pub scale_in_periods: u32,
    pub min: u32,
    pub max: u32,
}

/// The low alarm's threshold, as a share of the target (AWS's target tracking uses 90 %).
const SCALE_IN_THRESHOLD: f64 = 0.9;

/// The policy's state between metric datapoints.
#[derive(Debug)]
pub(crate) struct TargetTracking {
    policy: ScalingPolicy,
    above: u32,
    below: u32,
    last_scale_out: Option<f64>,
    last_scale_in: Option<f64>,
}

impl TargetTracking {
    pub(crate) fn new(policy: ScalingPolicy) -> Self {
        Self {
            policy,
            above: 0,
            below: 0,
            last_scale_out: None,
            last_scale_in: None,
        }
    }

    /// One metric datapoint at `now` (seconds): returns the desired count, `current` when
    /// nothing changes (but always within min and max).
    pub(crate) fn evaluate(&mut self, now: f64, metric: f64, current: u32) -> u32 {
        let policy = self.policy;
        self.above = if metric > policy.target {
            self.above + 1
        } else {
            0
        };
        self.below = if metric < policy.target * SCALE_IN_THRESHOLD {
            self.below + 1
        } else {
            0
        };
        let bounded = current.clamp(policy.min, policy.max);
        // An empty service still has its backlog: it counts as one task's worth.
        let proportional = (f64::from(current.max(1)) * metric / policy.target).ceil();
        let wanted = (proportional.min(f64::from(policy.max)) as u32).clamp(policy.min, policy.max);
        let cooled = |last: Option<f64>, cooldown: f64| last.is_none_or(|at| now - at >= cooldown);

        if self.above >= policy.scale_out_periods
            && wanted > bounded
            && cooled(self.last_scale_out, policy.scale_out_cooldown)
        {
            self.last_scale_out = Some(now);
            return wanted;
        }
        if self.below >= policy.scale_in_periods
            && wanted < bounded
            && cooled(self.last_scale_in, policy.scale_in_cooldown)
            && cooled(self.last_scale_out, policy.scale_out_cooldown)
        {
            self.last_scale_in = Some(now);
            return wanted;
        }
        bounded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ScalingPolicy {
        ScalingPolicy {
            target: 10.0,
            scale_out_cooldown: 120.0,
            scale_in_cooldown: 300.0,
            scale_out_periods: 1,
            scale_in_periods: 2,
            min: 1,
            max: 6,
        }
    }

    #[test]
    fn scales_out_in_proportion_to_the_metric() {
        let mut scaler = TargetTracking::new(policy());
        assert_eq!(scaler.evaluate(0.0, 25.0, 2), 5);
    }

    #[test]
    fn scale_out_waits_for_its_cooldown() {
        let mut scaler = TargetTracking::new(policy());
        assert_eq!(scaler.evaluate(0.0, 20.0, 1), 2);
        assert_eq!(scaler.evaluate(60.0, 20.0, 2), 2, "within the cooldown");
        assert_eq!(scaler.evaluate(119.0, 20.0, 2), 2, "still within it");
        assert_eq!(scaler.evaluate(120.0, 20.0, 2), 4, "cooldown over");
    }

    #[test]
    fn scale_out_needs_enough_breaching_datapoints() {
        let mut scaler = TargetTracking::new(ScalingPolicy {
            scale_out_periods: 3,
            ..policy()
        });
        assert_eq!(scaler.evaluate(0.0, 30.0, 1), 1);
        assert_eq!(scaler.evaluate(60.0, 30.0, 1), 1);
        assert_eq!(scaler.evaluate(120.0, 5.0, 1), 1, "a dip resets the alarm");
        assert_eq!(scaler.evaluate(180.0, 30.0, 1), 1);
        assert_eq!(scaler.evaluate(240.0, 30.0, 1), 1);
        assert_eq!(scaler.evaluate(300.0, 30.0, 1), 3);
    }

    #[test]
    fn scale_in_waits_for_the_low_alarm_and_both_cooldowns() {
        let mut scaler = TargetTracking::new(policy());
        assert_eq!(scaler.evaluate(0.0, 60.0, 1), 6);
        assert_eq!(scaler.evaluate(60.0, 0.0, 6), 6, "one low datapoint");
        assert_eq!(
            scaler.evaluate(100.0, 0.0, 6),
            6,
            "low alarm, but within the scale-out cooldown"
        );
        assert_eq!(scaler.evaluate(130.0, 0.0, 6), 1);
        assert_eq!(
            scaler.evaluate(200.0, 30.0, 1),
            3,
            "scale-out is not held by the scale-in cooldown"
        );
    }

    #[test]
    fn a_metric_near_the_target_changes_nothing() {
        let mut scaler = TargetTracking::new(policy());
        for minute in 0..30 {
            assert_eq!(scaler.evaluate(f64::from(minute) * 60.0, 9.5, 3), 3);
        }
    }

    #[test]
    fn min_and_max_hold() {
        let mut scaler = TargetTracking::new(policy());
        assert_eq!(scaler.evaluate(0.0, 1_000.0, 1), 6, "capped at max");
        assert_eq!(scaler.evaluate(1_000.0, 0.0, 6), 6);
        assert_eq!(scaler.evaluate(2_000.0, 0.0, 6), 1, "floored at min");
        assert_eq!(
            scaler.evaluate(3_000.0, 9.5, 0),
            1,
            "a count under min is raised"
        );
        assert_eq!(scaler.evaluate(4_000.0, 9.5, 9), 6, "over max is lowered");
    }
}
