// The console's one way to the server: gRPC-web to the same origin that served the page, every
// call carrying the signed-in bearer token. The token lives in memory and in sessionStorage
// (this tab, until it closes or signs out): never in a URL, never logged.
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { CallIntakeService } from "./gen/dispatch/v1/call_intake_service_pb";
import { DirectoryService } from "./gen/dispatch/v1/directory_service_pb";
import { IncidentTriageService } from "./gen/dispatch/v1/incident_triage_service_pb";
import { OperationService } from "./gen/dispatch/v1/operation_service_pb";
import { ReportingService } from "./gen/dispatch/v1/reporting_service_pb";
import { UnitAssignmentService } from "./gen/dispatch/v1/unit_assignment_service_pb";
import { VictimCareReferralService } from "./gen/dispatch/v1/victim_care_referral_service_pb";

const TOKEN_KEY = "dispatch.token";

let token: string | null = sessionStorage.getItem(TOKEN_KEY);

export function currentToken(): string | null {
  return token;
}

export function setToken(value: string | null): void {
  token = value;
  if (value === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
}

const bearer: Interceptor = (next) => async (request) => {
  if (token !== null) request.header.set("authorization", `Bearer ${token}`);
  return next(request);
};

const transport = createGrpcWebTransport({
  baseUrl: location.origin,
  interceptors: [bearer],
});

export interface Api {
  calls: Client<typeof CallIntakeService>;
  directory: Client<typeof DirectoryService>;
  triage: Client<typeof IncidentTriageService>;
  operations: Client<typeof OperationService>;
  units: Client<typeof UnitAssignmentService>;
  referrals: Client<typeof VictimCareReferralService>;
  reports: Client<typeof ReportingService>;
}

export const api: Api = {
  calls: createClient(CallIntakeService, transport),
  directory: createClient(DirectoryService, transport),
  triage: createClient(IncidentTriageService, transport),
  operations: createClient(OperationService, transport),
  units: createClient(UnitAssignmentService, transport),
  referrals: createClient(VictimCareReferralService, transport),
  reports: createClient(ReportingService, transport),
};

/** A fresh idempotency key (UUID v4); crypto.randomUUID needs a secure context, this does not. */
export function requestId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A field the server named as invalid (google.rpc.BadRequest.FieldViolation). */
export interface FieldViolation {
  field: string;
  description: string;
}

/** What the server said when it refused a call, ready to show. */
export interface Refusal {
  /** The gRPC code's name as the API documents it, e.g. "PERMISSION_DENIED". */
  code: string;
  message: string;
  violations: FieldViolation[];
}

const BAD_REQUEST = "google.rpc.BadRequest";

function fieldViolations(error: ConnectError): FieldViolation[] {
  const violations: FieldViolation[] = [];
  for (const detail of error.details) {
    if (!("type" in detail) || detail.type !== BAD_REQUEST) continue;
    // BadRequest { repeated FieldViolation field_violations = 1 }
    // FieldViolation { string field = 1; string description = 2 }
    const reader = new BinaryReader(detail.value);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field !== 1) {
        reader.skip(wireType);
        continue;
      }
      const inner = new BinaryReader(reader.bytes());
      const violation: FieldViolation = { field: "", description: "" };
      while (inner.pos < inner.len) {
        const [innerField, innerType] = inner.tag();
        if (innerField === 1) violation.field = inner.string();
        else if (innerField === 2) violation.description = inner.string();
        else inner.skip(innerType);
      }
      violations.push(violation);
    }
  }
  return violations;
}

/** The gRPC name of a code: Code.PermissionDenied is "PERMISSION_DENIED". */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

export function refusal(error: unknown): Refusal {
  const connect = ConnectError.from(error);
  return {
    code: codeName(connect.code),
    message: connect.rawMessage,
    violations: fieldViolations(connect),
  };
}

export { Code, ConnectError };
