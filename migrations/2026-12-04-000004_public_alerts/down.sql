DROP TABLE public_alerts;
DROP FUNCTION public_alert_follows_open_original();
