DROP FUNCTION record_calls(jsonb, text, text);
