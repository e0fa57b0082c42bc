// What another screen hands to the call taker screen: a call to raise, prefilled (the video
// operator's "raise a call from this camera"). The draft waits here, in memory, until the call
// taker screen mounts and takes it; it is never put in a URL.
import { CallChannel } from "../gen/dispatch/v1/call_pb";
import { LocationSource } from "../gen/dispatch/v1/common_pb";

export interface CallDraft {
  channel: CallChannel;
  latitude: number;
  longitude: number;
  /** Metres; 0 for a fixed device. */
  uncertaintyM: number;
  source: LocationSource;
  /** Camera.code of the reporting device (CreateCallRequest.source_device_id). */
  sourceDeviceId: string;
  /** A first line for the account, e.g. what the camera shows. */
  account: string;
  /** The incident the video operator was looking at, if any (shown as a hint). */
  incident: string;
}

let pending: CallDraft | null = null;

/** Leaves a draft for the call taker screen (then navigate to #/calls). */
export function setCallDraft(draft: CallDraft): void {
  pending = draft;
}

/** Takes the waiting draft, if any (once). */
export function takeCallDraft(): CallDraft | null {
  const draft = pending;
  pending = null;
  return draft;
}

/** "19.4326, -99.1332" (also "19.4326 -99.1332" or "19.4326;-99.1332") → the point, or null. */
export function parseLatLon(text: string): { latitude: number; longitude: number } | null {
  const parts = text.trim().split(/\s*[,;]\s*|\s+/).filter((part) => part !== "");
  if (parts.length !== 2) return null;
  if (!parts.every((part) => /^[-+]?\d+(\.\d+)?$/.test(part))) return null;
  const [latitude, longitude] = parts.map(Number);
  if (!Number.isFinite(latitude) || !Number.isFinite(longitude)) return null;
  if (latitude < -90 || latitude > 90 || longitude < -180 || longitude > 180) return null;
  return { latitude, longitude };
}

/** The text form parseLatLon reads, 5 decimals (about 1 m). */
export function formatLatLon(latitude: number, longitude: number): string {
  return `${latitude.toFixed(5)}, ${longitude.toFixed(5)}`;
}
