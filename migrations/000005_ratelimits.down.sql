DROP TABLE IF EXISTS network_rules;
DROP TABLE IF EXISTS rate_limits;
