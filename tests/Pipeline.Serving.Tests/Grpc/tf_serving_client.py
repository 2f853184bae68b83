#!/usr/bin/python3
"""An independent TF Serving gRPC client: Debian's python3-grpcio, with stubs compiled by python3-grpc-tools from the
same protos the server was built from. Calls Predict, Classify, GetModelMetadata and GetModelStatus and prints one
JSON object with what came back, for the C# test to compare with the REST answers.

usage: tf_serving_client.py HOST:PORT MODEL PROTO_DIR... -- IMAGE...
"""
import json
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc


def compile_protos(proto_dirs, out):
    protos = [os.path.join(d, f) for d in proto_dirs for f in sorted(os.listdir(d)) if f.endswith(".proto")]
    includes = ["-I" + d for d in proto_dirs]
    # grpc_tools' own copy of the well-known types (any.proto, wrappers.proto).
    includes.append("-I" + os.path.join(os.path.dirname(protoc.__file__), "_proto"))
    status = protoc.main(["protoc", *includes, "--python_out=" + out, "--grpc_python_out=" + out, *protos])
    if status != 0:
        sys.exit("protoc failed: %d" % status)
    sys.path.insert(0, out)


def main():
    separator = sys.argv.index("--")
    target, model, proto_dirs, images = sys.argv[1], sys.argv[2], sys.argv[3:separator], sys.argv[separator + 1:]
    out = tempfile.mkdtemp(prefix="tf-serving-client-")
    compile_protos(proto_dirs, out)
    import example_pb2
    import tensorflow_framework_pb2 as tf
    import tensorflow_serving_pb2 as serving
    import tensorflow_serving_pb2_grpc as serving_grpc

    contents = [open(path, "rb").read() for path in images]
    channel = grpc.insecure_channel(target)
    prediction = serving_grpc.PredictionServiceStub(channel)
    models = serving_grpc.ModelServiceStub(channel)
    answer = {}

    request = serving.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = "serving_default"
    request.inputs["image_bytes"].dtype = tf.DT_STRING
    request.inputs["image_bytes"].tensor_shape.dim.add().size = len(contents)
    request.inputs["image_bytes"].string_val.extend(contents)
    request.inputs["key"].dtype = tf.DT_INT64
    request.inputs["key"].int64_val.extend(range(100, 100 + len(contents)))
    response = prediction.Predict(request, timeout=30)
    probabilities = response.outputs["probabilities"]
    classes = probabilities.tensor_shape.dim[1].size
    answer["predict"] = {
        "version": response.model_spec.version.value,
        "classes": list(response.outputs["classes"].int64_val),
        "label": [v.decode("utf-8") for v in response.outputs["label"].string_val],
        "probabilities": [list(probabilities.float_val[i * classes:(i + 1) * classes]) for i in range(len(contents))],
        "key": list(response.outputs["key"].int64_val),
    }

    request = serving.ClassificationRequest()
    request.model_spec.name = model
    for content in contents:
        example = request.input.example_list.examples.add()
        example.features.feature["image_bytes"].bytes_list.value.append(content)
    response = prediction.Classify(request, timeout=30)
    answer["classify"] = [[[c.label, c.score] for c in result.classes] for result in response.result.classifications]

    request = serving.GetModelMetadataRequest()
    request.model_spec.name = model
    request.metadata_field.append("signature_def")
    response = prediction.GetModelMetadata(request, timeout=30)
    signatures = serving.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    default = signatures.signature_def["serving_default"]
    answer["metadata"] = {
        "method_name": default.method_name,
        "inputs": {name: [tf.DataType.Name(info.dtype), [d.size for d in info.tensor_shape.dim]] for name, info in default.inputs.items()},
        "outputs": {name: [tf.DataType.Name(info.dtype), [d.size for d in info.tensor_shape.dim]] for name, info in default.outputs.items()},
    }

    request = serving.GetModelStatusRequest()
    request.model_spec.name = model
    response = models.GetModelStatus(request, timeout=30)
    answer["status"] = [[s.version, serving.ModelVersionStatus.State.Name(s.state)] for s in response.model_version_status]

    request = serving.PredictRequest()
    request.model_spec.name = "no-such-model"
    request.inputs["image_bytes"].dtype = tf.DT_STRING
    request.inputs["image_bytes"].string_val.append(contents[0])
    try:
        prediction.Predict(request, timeout=30)
        answer["unknown_model"] = "answered"
    except grpc.RpcError as error:
        answer["unknown_model"] = [error.code().name, error.details()]

    print(json.dumps(answer))


if __name__ == "__main__":
    main()
