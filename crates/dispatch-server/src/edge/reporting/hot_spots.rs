//! GetHotSpotReport's request and answer.
