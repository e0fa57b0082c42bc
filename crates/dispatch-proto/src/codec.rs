//! The codec every generated client and server uses: prost's, except that a request body that
//! cannot be decoded is the caller's mistake, INVALID_ARGUMENT naming the field where decoding
//! failed (tonic's own codec answers INTERNAL).

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;
use tonic_types::{ErrorDetails, StatusExt as _};

/// `tonic_prost::ProstCodec` with [`ValidatingDecoder`].
#[derive(Debug, Clone, Copy)]
pub struct DispatchCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for DispatchCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for DispatchCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ValidatingDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        ValidatingDecoder(PhantomData)
    }
}

/// Decodes with prost; a malformed body becomes INVALID_ARGUMENT with a field violation.
#[derive(Debug, Clone, Copy)]
pub struct ValidatingDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for ValidatingDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|error| malformed(&error))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// The status travels in HTTP/2 headers that clients cap (commonly at 16 KiB): however deep
/// the failure, the path and reason stay short (the path cut after a whole field, so it still
/// names one), as the server's own refusals do.
const MAX_PATH_BYTES: usize = 256;
const MAX_REASON_BYTES: usize = 256;

fn malformed(error: &prost::DecodeError) -> Status {
    let (mut field, mut reason) = field_path(&error.to_string());
    if field.len() > MAX_PATH_BYTES {
        let mut end = MAX_PATH_BYTES;
        while !field.is_char_boundary(end) {
            end -= 1;
        }
        field.truncate(field[..end].rfind('.').unwrap_or(0));
    }
    if reason.len() > MAX_REASON_BYTES {
        let mut end = MAX_REASON_BYTES;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    let mut details = ErrorDetails::new();
    details.add_bad_request_violation(&field, format!("malformed protobuf: {reason}"));
    let message = if field.is_empty() {
        format!("malformed request: {reason}")
    } else {
        format!("malformed request: {field}: {reason}")
    };
    Status::with_error_details(tonic::Code::InvalidArgument, message, details)
}

/// prost describes where decoding failed innermost first: `"failed to decode Protobuf message:
/// Unit.status: CreateUnitRequest.unit: invalid wire type ..."` is the field `unit.status`. With
/// no field to name (a truncated body), the whole request is at fault: the empty path.
fn field_path(text: &str) -> (String, String) {
    let text = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(text);
    let mut fields = Vec::new();
    let mut rest = text;
    while let Some((segment, after)) = rest.split_once(": ") {
        match segment.split_once('.') {
            Some((message, field))
                if !message.is_empty()
                    && !field.is_empty()
                    && message
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                fields.push(field.to_owned());
                rest = after;
            }
            _ => break,
        }
    }
    fields.reverse();
    (fields.join("."), rest.to_owned())
}

#[cfg(test)]
mod tests {
    use super::field_path;

    #[test]
    fn paths_read_outermost_first() {
        assert_eq!(
            field_path(
                "failed to decode Protobuf message: Unit.status: CreateUnitRequest.unit: \
                 invalid wire type: SixtyFourBit (expected Varint)"
            ),
            (
                "unit.status".to_owned(),
                "invalid wire type: SixtyFourBit (expected Varint)".to_owned()
            )
        );
        assert_eq!(
            field_path("failed to decode Protobuf message: buffer underflow"),
            (String::new(), "buffer underflow".to_owned())
        );
    }
}
