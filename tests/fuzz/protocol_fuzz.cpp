// The runner protocol's decoding (protocol.cpp) on any byte stream, as the hub reads it from a
// child that may be compromised: FrameReader splits the bytes into frames, and each frame's body
// is decoded as its type says (records reusing one OwnedRecord, as a pull does). A decoded record
// must re-encode to the size EncodedRecordSize computes.
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "reglo/isolation/protocol.h"

namespace protocol = reglo::isolation::protocol;
using reglo::fuzz::Check;

namespace {

void CheckRecord(const protocol::OwnedRecord& record) {
  const reglo_record& view = record.view();
  for (size_t i = 0; i < view.field_count; ++i) {
    Check(view.fields[i].value != nullptr || view.fields[i].value_len == 0,
          "an absent value with a length");
  }
  protocol::Encoder encoder;
  encoder.Record(view);
  Check(encoder.bytes().size() == protocol::EncodedRecordSize(view),
        "EncodedRecordSize differs from the encoding");
}

void DecodeBody(protocol::Type type, std::string_view body, protocol::OwnedRecord& record) {
  protocol::Decoder in(body);
  std::string text;
  switch (type) {
    case protocol::Type::kHello:
      (void)in.U32(), (void)in.U16(), (void)in.U16(), (void)in.U32();
      break;
    case protocol::Type::kResult: (void)in.StatusValue(), (void)in.U32(); break;
    case protocol::Type::kLoaded: (void)in.Info(); break;
    case protocol::Type::kRecord:
      if (record.Decode(in)) {
        CheckRecord(record);
        (void)in.U8(), (void)in.StatusValue();
      }
      break;
    case protocol::Type::kCanonical:
    case protocol::Type::kMap:
      if (record.Decode(in)) CheckRecord(record);
      break;
    case protocol::Type::kCheckpoint: (void)in.Str(), (void)in.U64(); break;
    case protocol::Type::kWarning: (void)in.Str(), (void)in.Str(); break;
    case protocol::Type::kLog: (void)in.U8(), (void)in.Str(); break;
    case protocol::Type::kPull: (void)in.Str(), (void)in.OptStr(text), (void)in.U8(); break;
    case protocol::Type::kRefuse: (void)in.StatusValue(); break;
    default: (void)in.Str(); break;
  }
  (void)in.done();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const reglo::fuzz::MemFile file(std::string_view(reinterpret_cast<const char*>(data), size));
  protocol::FrameReader reader(file.fd());
  protocol::OwnedRecord record;
  for (;;) {
    protocol::Frame frame;
    reglo::Result<protocol::ReadOutcome> got = reader.Next(frame, 0);
    if (!got.ok() || *got != protocol::ReadOutcome::kFrame) break;
    DecodeBody(frame.type, frame.body, record);
  }
  return 0;
}
