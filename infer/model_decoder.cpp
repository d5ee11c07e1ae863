#include "infer/model_decoder.h"

#include <cstdlib>
#include <string>

#include "core/error.h"
#include "ops/index.h"

#ifdef SSM_WITH_CUDA
#include "core/cuda/graph.h"
#endif

namespace ssm::infer {

struct ModelDecoder::GraphState {
#ifdef SSM_WITH_CUDA
  cuda::Graph graph;
#endif
  Tensor ids;     // (B) int64 on the device: step() copies the tokens here before a replay
  Tensor logits;  // (B, V): what the replay writes
};

ModelDecoder::ModelDecoder(const models::Model& model) : model_(model) {
#ifdef SSM_WITH_CUDA
  const char* env = std::getenv("SSM_CUDA_GRAPH");
  use_graphs_ = !(env && std::string(env) == "0");
#endif
}

ModelDecoder::~ModelDecoder() = default;

Tensor ModelDecoder::prefill(const Tensor& ids) {
  graph_.reset();  // new state tensors: a recorded step would read the old ones
  SSM_CHECK(ids.dim() == 2, "ModelDecoder::prefill: expects ids (B, L), got ", describe(ids));
  state_ = model_.new_state(ids.size(0));
  return model_.prefill(ids.to(model_.device()), *state_);
}

Tensor ModelDecoder::step(const Tensor& ids) {
  SSM_CHECK(state_, "ModelDecoder::step: call prefill first");
  Device dev = model_.device();
  used_graph_ = false;
#ifdef SSM_WITH_CUDA
  if (use_graphs_ && dev.is_cuda() && ids.dim() == 1) {
    if (graph_ && graph_->ids.size(0) != ids.size(0)) graph_.reset();
    if (!graph_) {
      // Checked here: inside the graph the embedding cannot report a bad id to the host.
      for (int64_t v : ids.to_vector<int64_t>())
        SSM_CHECK(v >= 0 && v < vocab(), "ModelDecoder::step: token id ", v, " is outside [0, ",
                  vocab(), ")");
      auto g = std::make_unique<GraphState>();
      g->ids = ids.to(DType::i64).to(dev);
      g->graph.capture(dev.index, [&] { g->logits = model_.step(g->ids, *state_); });
      graph_ = std::move(g);
    } else {
      for (int64_t v : ids.to_vector<int64_t>())
        SSM_CHECK(v >= 0 && v < vocab(), "ModelDecoder::step: token id ", v, " is outside [0, ",
                  vocab(), ")");
      graph_->ids.copy_(ids);
    }
    graph_->graph.replay();
    used_graph_ = true;
    return graph_->logits;
  }
#endif
  return model_.step(ids.to(dev), *state_);
}

void ModelDecoder::reorder(const Tensor& rows) {
  SSM_CHECK(state_, "ModelDecoder::reorder: call prefill first");
  SSM_CHECK(rows.dim() == 1, "ModelDecoder::reorder: rows must be 1-D, got ", describe(rows));
  std::vector<Tensor*> tensors = state_->rows();
  const bool same_rows = !tensors.empty() && rows.size(0) == tensors[0]->size(0);
  for (Tensor* t : tensors) {
    Tensor r = rows.to(t->device());
    if (same_rows && graph_)  // in place: the recorded step keeps reading these tensors
      t->copy_(index_select(*t, 0, r));
    else
      *t = index_select(*t, 0, r);
  }
  if (!same_rows) graph_.reset();
}

}  // namespace ssm::infer
