"""Read TensorBoard event files back (TFRecord framing + tensorboardX's protobuf classes)."""

import glob
import os
import struct


def read_events(path):
    """Every ``Event`` in one events file, in order; each record's two CRCs are checked
    with tensorboardX's own CRC-32C, as TensorBoard's reader checks them."""
    from tensorboardX.proto import event_pb2
    from tensorboardX.record_writer import masked_crc32c

    events = []
    with open(path, "rb") as f:
        data = f.read()
    offset = 0
    while offset < len(data):
        header = data[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[offset + 8:offset + 12])[0] == masked_crc32c(header), "bad length CRC"
        offset += 12  # length + its CRC
        record = data[offset:offset + length]
        assert struct.unpack("<I", data[offset + length:offset + length + 4])[0] == masked_crc32c(record), \
            "bad data CRC"
        event = event_pb2.Event()
        event.ParseFromString(record)
        events.append(event)
        offset += length + 4  # data + its CRC
    return events


def event_files(folder):
    return sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*")))


def scalars(folder):
    """``{tag: [(step, value), ...]}`` over every events file in ``folder``."""
    found = {}
    for path in event_files(folder):
        for event in read_events(path):
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    found.setdefault(value.tag, []).append((event.step, value.simple_value))
    return found


def tags_with_plugin(folder, plugin):
    return [value.tag for path in event_files(folder) for event in read_events(path)
            for value in event.summary.value if value.metadata.plugin_data.plugin_name == plugin]


def tags_of_kind(folder, kind):
    """Tags whose value is ``kind`` (``"histo"`` or ``"image"``)."""
    return [value.tag for path in event_files(folder) for event in read_events(path)
            for value in event.summary.value if value.HasField(kind)]
