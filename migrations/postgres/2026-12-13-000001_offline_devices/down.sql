DROP FUNCTION parley_offline_devices(BIGINT[], BIGINT[]);
