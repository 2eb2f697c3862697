# resnet as a container image: one static binary (pure Go, CGO_ENABLED=0) on distroless/static
# (CA certificates for the Hugging Face Hub, tzdata, user nonroot 65532; no shell, no package
# manager). amd64 and arm64 (cross-compiled: docker buildx build --platform linux/arm64 .).
#   docker build -t resnet:latest .
#   docker run --rm -p 8080:8080 -p 8081:8081 resnet:latest      # the built-in CIFAR-10 model
#   docker run --rm -p 8080:8080 -v hf-cache:/home/nonroot/.cache resnet:latest \
#     serve --model microsoft/resnet-50 --http :8080 --grpc :8081

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/resnet ./cmd/resnet

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/resnet /usr/local/bin/resnet
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/resnet"]
CMD ["serve", "--http", ":8080", "--grpc", ":8081"]
