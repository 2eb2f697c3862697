// Package deploy holds the files that run resnet on Kubernetes; it has no Go API.
//
//   - kubernetes/: a Deployment of `resnet serve` (REST on 8080, gRPC on 8081, probes on
//     /v2/health/ready and /v2/health/live), its Service, a HorizontalPodAutoscaler on CPU, a
//     PodDisruptionBudget and the kustomization that applies them (kubectl apply -k).
//   - kserve/: KServe InferenceServices with resnet serve as a custom container speaking the
//     Open Inference Protocol v2 (PROTOCOL=v2), over REST and over gRPC (port h2c).
//   - jobs/: Indexed Jobs that shard offline work, `resnet classify|embed --shard auto/N`.
//
// The image is built by the Dockerfile at the repository root. The tests decode every manifest
// strictly into the k8s.io/api types (a local type for KServe's CRD) and check them against
// the server: probe paths and ports, flags, the grace period against --exit-timeout.
package deploy
