// Package onnx moves ResNets in and out of ONNX without an ONNX runtime.
//
// Export (Export, WriteFile) writes a model as an IR 8 / opset 13–17 graph with HF tensor
// names. Import (Load, Import) does not interpret graphs: it validates each node against a
// small op table, recognises the ResNet in it (stem, basic or bottleneck blocks, identity,
// projection or option-A shortcuts, plain networks, the pooling head) and returns an
// arch.Config with the tensors under HF names, so model.New builds it like any checkpoint and
// it runs on the same planned kernels. torch.onnx.export files (BN folded or kept, opsets
// 7–17 tested), Gluon v1 layouts and our own exports are recognised; anything else is refused
// with an error naming the node, its op and the offending attribute. Types come from onnxpb.
package onnx
