-- Daily production per site. Re-runnable: the day's rows are replaced.
-- Parameters: :day (DATE)

BEGIN;

DELETE FROM site_daily WHERE day = :day;

INSERT INTO site_daily (site_id, day, energy_kwh, peak_power_kw, inverter_count, max_temperature_c)
SELECT r.site_id,
       :day AS day,
       SUM(r.energy_wh) / 1000.0 AS energy_kwh,
       MAX(r.power_w) / 1000.0 AS peak_power_kw,
       COUNT(DISTINCT r.inverter_id) AS inverter_count,
       MAX(r.temperature_c) AS max_temperature_c
FROM readings r
WHERE r.measured_at >= :day
  AND r.measured_at < :day + INTERVAL '1 day'
GROUP BY r.site_id;

-- Flag sites that produced less than half of their 28-day median.
UPDATE site_daily d
SET low_output = d.energy_kwh < 0.5 * m.median_kwh
FROM (
    SELECT site_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY energy_kwh) AS median_kwh
    FROM site_daily
    WHERE day BETWEEN :day - 28 AND :day - 1
    GROUP BY site_id
) m
WHERE d.site_id = m.site_id AND d.day = :day;

COMMIT;
