#include "infer/mamba_decoder.h"

#include <cstdlib>
#include <string>

#include "core/error.h"
#include "ops/index.h"

#ifdef SSM_WITH_CUDA
#include "core/cuda/graph.h"
#endif

namespace ssm::infer {

struct MambaDecoder::GraphState {
#ifdef SSM_WITH_CUDA
  cuda::Graph graph;
#endif
  Tensor ids;     // (B) int64 on the device: step() copies the tokens here before a replay
  Tensor logits;  // (B, V): what the replay writes
};

MambaDecoder::MambaDecoder(const models::MambaLM& model) : model_(model) {
#ifdef SSM_WITH_CUDA
  const char* env = std::getenv("SSM_CUDA_GRAPH");
  use_graphs_ = !(env && std::string(env) == "0");
#endif
}

MambaDecoder::~MambaDecoder() = default;

Tensor MambaDecoder::prefill(const Tensor& ids) {
  graph_.reset();  // new cache tensors: a recorded step would read the old ones
  Tensor logits = model_.prefill(ids.to(model_.lm_head_weight().device()), cache_);
  ready_ = true;
  return logits;
}

Tensor MambaDecoder::step(const Tensor& ids) {
  SSM_CHECK(ready_, "MambaDecoder::step: call prefill first");
  Device dev = model_.lm_head_weight().device();
  used_graph_ = false;
#ifdef SSM_WITH_CUDA
  if (use_graphs_ && dev.is_cuda() && ids.dim() == 1) {
    if (graph_ && graph_->ids.size(0) != ids.size(0)) graph_.reset();
    if (!graph_) {
      // Checked here: inside the graph the embedding cannot report a bad id to the host.
      for (int64_t v : ids.to_vector<int64_t>())
        SSM_CHECK(v >= 0 && v < vocab(), "MambaDecoder::step: token id ", v, " is outside [0, ",
                  vocab(), ")");
      auto g = std::make_unique<GraphState>();
      g->ids = ids.to(DType::i64).to(dev);
      g->graph.capture(dev.index, [&] { g->logits = model_.step(g->ids, cache_); });
      graph_ = std::move(g);
    } else {
      for (int64_t v : ids.to_vector<int64_t>())
        SSM_CHECK(v >= 0 && v < vocab(), "MambaDecoder::step: token id ", v, " is outside [0, ",
                  vocab(), ")");
      graph_->ids.copy_(ids);
    }
    graph_->graph.replay();
    used_graph_ = true;
    return graph_->logits;
  }
#endif
  return model_.step(ids.to(dev), cache_);
}

void MambaDecoder::reorder(const Tensor& rows) {
  SSM_CHECK(ready_, "MambaDecoder::reorder: call prefill first");
  SSM_CHECK(rows.dim() == 1, "MambaDecoder::reorder: rows must be 1-D, got ", describe(rows));
  const bool same_rows = !cache_.layers.empty() && rows.size(0) == cache_.layers[0].conv_state.size(0);
  for (nn::MambaCache& layer : cache_.layers) {
    Tensor r = rows.to(layer.conv_state.device());
    if (same_rows && graph_) {  // in place: the recorded step keeps reading these tensors
      layer.conv_state.copy_(index_select(layer.conv_state, 0, r));
      layer.ssm_state.copy_(index_select(layer.ssm_state, 0, r));
    } else {
      layer.conv_state = index_select(layer.conv_state, 0, r);
      layer.ssm_state = index_select(layer.ssm_state, 0, r);
    }
  }
  if (!same_rows) graph_.reset();
}

}  // namespace ssm::infer
