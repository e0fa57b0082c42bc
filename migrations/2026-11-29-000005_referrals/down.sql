DROP INDEX events_partner_feed;
DROP INDEX events_referral_id;
ALTER TABLE events DROP COLUMN partner_id, DROP COLUMN referral_id;
DROP TABLE follow_ups;
DROP TABLE referral_history;
DROP TABLE referrals;
ALTER TABLE principals DROP CONSTRAINT principals_partner_id_fkey;
DROP TABLE partners;
