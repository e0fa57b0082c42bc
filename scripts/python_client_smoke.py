#!/usr/bin/env python3
"""Calls a running dispatchd from Python with stubs generated from proto/ (grpcio-tools).

Proves the contract is usable from another language: generates the stubs into a temporary
directory, creates a call taker with the admin token, records a call as that call taker, reads
it back, and checks that bad input is INVALID_ARGUMENT and no credential is UNAUTHENTICATED.

    pip install grpcio grpcio-tools
    DISPATCH_ADMIN_TOKEN=... python3 scripts/python_client_smoke.py 127.0.0.1:50051
"""

import os
import pathlib
import sys
import tempfile
import uuid

import grpc
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"


def generate(out: pathlib.Path) -> None:
    files = sorted(str(p.relative_to(PROTO)) for p in (PROTO / "dispatch" / "v1").glob("*.proto"))
    well_known = pathlib.Path(protoc.__file__).parent / "_proto"
    status = protoc.main(
        ["protoc", f"-I{PROTO}", f"-I{well_known}", f"--python_out={out}", f"--grpc_python_out={out}", *files]
    )
    if status != 0:
        sys.exit(f"protoc failed with {status}")


def main() -> None:
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    with tempfile.TemporaryDirectory() as out:
        generate(pathlib.Path(out))
        sys.path.insert(0, out)
        from dispatch.v1 import call_intake_service_pb2 as svc  # noqa: E402
        from dispatch.v1 import call_intake_service_pb2_grpc as svc_grpc  # noqa: E402
        from dispatch.v1 import call_pb2, common_pb2, principal_pb2  # noqa: E402
        from dispatch.v1 import directory_service_pb2 as directory  # noqa: E402
        from dispatch.v1 import directory_service_pb2_grpc as directory_grpc  # noqa: E402

        admin = [("authorization", "Bearer " + os.environ["DISPATCH_ADMIN_TOKEN"])]
        with grpc.insecure_channel(address) as channel:
            people = directory_grpc.DirectoryServiceStub(channel)
            taker = people.CreatePrincipal(
                directory.CreatePrincipalRequest(
                    request_id=str(uuid.uuid4()),
                    principal=principal_pb2.Principal(
                        display_name="python-" + uuid.uuid4().hex[:8], role=principal_pb2.ROLE_CALL_TAKER
                    ),
                ),
                metadata=admin,
                timeout=10,
            ).principal
            token = people.IssueCredential(
                directory.IssueCredentialRequest(
                    request_id=str(uuid.uuid4()),
                    principal=taker.name,
                    kind=principal_pb2.CREDENTIAL_KIND_BEARER_TOKEN,
                ),
                metadata=admin,
                timeout=10,
            ).token
            me = [("authorization", "Bearer " + token)]
            calls = svc_grpc.CallIntakeServiceStub(channel)
            try:
                calls.GetCall(svc.GetCallRequest(name="calls/00000000-0000-0000-0000-000000000000"), timeout=10)
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error
            else:
                sys.exit("a call without a credential was answered")
            location = common_pb2.Location(
                point=common_pb2.GeoPoint(latitude=19.4326, longitude=-99.1332),
                uncertainty_m=30.0,
                source=common_pb2.LOCATION_SOURCE_DEVICE,
            )
            created = calls.CreateCall(
                svc.CreateCallRequest(
                    request_id=str(uuid.uuid4()),
                    channel=call_pb2.CALL_CHANNEL_APP_911,
                    callback_number="+525512345678",
                    location=location,
                    account="Persona inconsciente en la banqueta",
                ),
                metadata=me,
                timeout=10,
            )
            fetched = calls.GetCall(svc.GetCallRequest(name=created.call.name), metadata=me, timeout=10)
            assert fetched.call.folio == created.call.folio, (fetched, created)
            try:
                calls.CreateCall(svc.CreateCallRequest(request_id=str(uuid.uuid4())), metadata=me, timeout=10)
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
            else:
                sys.exit("an empty call was accepted")
            print(f"python client: created and read {created.call.name} ({created.call.folio})")


if __name__ == "__main__":
    main()
