//! From a captured graph to steps: constants folded on Burn's CPU backend, then each operation
//! lowered to a kernel with what follows it fused in where the kernel can take it (batch norm
//! into the convolution's weights, residual addition and activation into its epilogue, bias and
//! activation into a dense layer, chains of elementwise operations into one pass, channel
//! concatenations written in place), and every other operation kept as a call into Burn.

use std::collections::{HashMap, HashSet};

use burn::backend::capture::CapturedGraph;
use burn::backend::ir::{
    ActivationOperationIr, BaseOperationIr, FloatOperationIr, ModuleOperationIr, NumericOperationIr, OperationIr, ScalarIr, TensorId,
    TensorIr,
};
use burn::tensor::{DType, TensorData};

use super::exec::{Bound, Elementwise, Fallback, Step};
use super::interpret::{op_name, run_op};
use super::kernels::{self, Activation, Geometry};
use super::place::Place;
use super::PlanError;

/// The lowered plan, before it is wrapped for callers.
pub(crate) struct Lowered {
    pub steps: Vec<Step>,
    /// Values per example of each buffer.
    pub sizes: Vec<usize>,
    pub input: Place,
    pub output: Place,
    /// Buffers to free after each step.
    pub free_after: Vec<Vec<usize>>,
    /// Operations fused into the step before them.
    pub fused: usize,
    /// f32 values of weights and constants the steps hold.
    pub weight_values: usize,
}

pub(crate) fn compile(captured: CapturedGraph) -> Result<Lowered, PlanError> {
    let CapturedGraph { graph, values } = captured;
    let ([input], [output]) = (graph.inputs.as_slice(), graph.outputs.as_slice()) else {
        return Err(PlanError::Boundary { inputs: graph.inputs.len(), outputs: graph.outputs.len() });
    };
    let (input, output) = (*input, *output);
    let mut consts: HashMap<TensorId, TensorData> = values.into_iter().collect();
    consts.remove(&input);
    // Which operations fold (every input constant) is known from the graph alone; sorting them
    // out first lets each constant be released at its last use, so compiling holds the weights
    // about once rather than once per stage (recorded, folded, packed).
    let mut known: HashSet<TensorId> = consts.keys().copied().collect();
    let mut input_ir = None;
    let mut folds = Vec::new();
    let mut nodes = Vec::new();
    for op in graph.operations {
        match &op {
            OperationIr::Init(init) if init.out.id == input => input_ir = Some(init.out.clone()),
            OperationIr::Init(init) if !known.contains(&init.out.id) => {
                return Err(PlanError::Internal(format!("tensor {:?} was initialised without a value", init.out.id)))
            }
            OperationIr::Init(_) | OperationIr::Drop(_) => {}
            _ if op.inputs().all(|t| known.contains(&t.id)) => {
                known.extend(op.outputs().map(|t| t.id));
                folds.push(op);
            }
            _ => nodes.push(op),
        }
    }
    let mut uses = ConstUses::default();
    for op in folds.iter().chain(&nodes) {
        uses.add(op, &known);
    }
    uses.keep(output);
    consts.retain(|id, _| uses.live(*id));
    for op in &folds {
        let folded = run_op(op, &consts)?;
        for (out, data) in op.outputs().zip(folded) {
            if uses.live(out.id) {
                consts.insert(out.id, data);
            }
        }
        uses.release(op, &mut consts);
    }
    let input_ir = input_ir.ok_or_else(|| PlanError::Internal("the graph input is never initialised".into()))?;
    check_runtime(&input_ir, "the input")?;
    for node in &nodes {
        for out in node.outputs() {
            check_runtime(out, &op_name(node))?;
        }
    }
    if consts.contains_key(&output) {
        return Err(PlanError::Internal("the output does not depend on the input".into()));
    }
    let mut consumers: HashMap<TensorId, Vec<usize>> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let mut seen = HashSet::new();
        for t in node.inputs().filter(|t| !consts.contains_key(&t.id)) {
            if seen.insert(t.id) {
                consumers.entry(t.id).or_default().push(i);
            }
        }
    }
    let mut compiler = Compiler {
        done: vec![false; nodes.len()],
        released: vec![false; nodes.len()],
        winograd: winograd_within_budget(&nodes, &consts),
        uses,
        nodes,
        consts,
        consumers,
        output,
        places: HashMap::new(),
        preplaced: HashMap::new(),
        sizes: Vec::new(),
        steps: Vec::new(),
        fused: 0,
        weight_values: 0,
    };
    let input_place = compiler.new_place(input, per_example(&input_ir));
    compiler.place_concatenations();
    for i in 0..compiler.nodes.len() {
        if !compiler.done[i] {
            compiler.done[i] = true;
            compiler.lower(i)?;
            compiler.release_lowered();
        }
    }
    let mut output_place = compiler.place(output)?;
    if !output_place.is_whole() || output_place == input_place {
        let out = compiler.fresh(output_place.len);
        compiler.steps.push(Step::Copy { input: output_place, out });
        output_place = out;
    }
    let free_after = liveness(&compiler.steps, compiler.sizes.len(), output_place.slot);
    Ok(Lowered {
        steps: compiler.steps,
        sizes: compiler.sizes,
        input: input_place,
        output: output_place,
        free_after,
        fused: compiler.fused,
        weight_values: compiler.weight_values,
    })
}

/// A runtime tensor must be f32 and keep the batch (1 at capture) in its first dimension.
fn check_runtime(t: &TensorIr, op: &str) -> Result<(), PlanError> {
    if t.dtype != DType::F32 {
        return Err(PlanError::NotF32 { op: op.into(), dtype: format!("{:?}", t.dtype) });
    }
    if t.shape.first() != Some(&1) {
        return Err(PlanError::NotBatched { op: op.into(), shape: t.shape.to_vec() });
    }
    Ok(())
}

fn per_example(t: &TensorIr) -> usize {
    t.shape.iter().skip(1).product()
}

/// For each step, the buffers whose last use it is (never the output's).
fn liveness(steps: &[Step], buffers: usize, output: usize) -> Vec<Vec<usize>> {
    let mut last = vec![None; buffers];
    for (i, step) in steps.iter().enumerate() {
        for slot in step.reads().into_iter().chain(step.writes()) {
            last[slot] = Some(i);
        }
    }
    let mut free = vec![Vec::new(); steps.len()];
    for (slot, at) in last.into_iter().enumerate() {
        if let Some(i) = at.filter(|_| slot != output) {
            free[i].push(slot);
        }
    }
    free
}

/// Winograd's transformed weights may add at most this share of the network's weights.
const WINOGRAD_MEMORY: f64 = 0.25;

/// The convolutions that take the Winograd path: those with the most output positions first
/// (the transform's saving grows with them, its memory does not), while the extra memory stays
/// within [`WINOGRAD_MEMORY`] of the weights.
fn winograd_within_budget(nodes: &[OperationIr], consts: &HashMap<TensorId, TensorData>) -> HashSet<TensorId> {
    let weights: usize = consts.values().map(TensorData::num_elements).sum();
    let mut candidates: Vec<(usize, usize, TensorId)> = nodes
        .iter()
        .filter_map(|op| {
            let OperationIr::Module(ModuleOperationIr::Conv2d(c)) = op else { return None };
            let shape: [usize; 4] = c.weight.shape.as_slice().try_into().ok()?;
            let o = &c.options;
            let g = Geometry { stride: o.stride, padding: o.padding, dilation: o.dilation, groups: o.groups };
            let extra = kernels::winograd_extra(shape, &g).filter(|_| consts.contains_key(&c.weight.id))?;
            let positions = c.out.shape.iter().skip(2).product::<usize>();
            Some((positions, extra, c.out.id))
        })
        .collect();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    let mut budget = (weights as f64 * WINOGRAD_MEMORY) as usize;
    let mut chosen = HashSet::new();
    for (_, extra, id) in candidates {
        if extra <= budget {
            budget -= extra;
            chosen.insert(id);
        }
    }
    chosen
}

/// How many operations still read each constant; a constant goes when the last one has run
/// (folding) or has been lowered (its values packed into a kernel).
#[derive(Default)]
struct ConstUses(HashMap<TensorId, usize>);

impl ConstUses {
    fn add(&mut self, op: &OperationIr, known: &HashSet<TensorId>) {
        for id in distinct_inputs(op).into_iter().filter(|id| known.contains(id)) {
            *self.0.entry(id).or_default() += 1;
        }
    }

    /// `id` is never released (the graph's output, checked after compilation).
    fn keep(&mut self, id: TensorId) {
        *self.0.entry(id).or_default() += 1;
    }

    fn live(&self, id: TensorId) -> bool {
        self.0.get(&id).is_some_and(|n| *n > 0)
    }

    /// `op` no longer needs its constant inputs: those it read last are dropped.
    fn release(&mut self, op: &OperationIr, consts: &mut HashMap<TensorId, TensorData>) {
        for id in distinct_inputs(op) {
            if let Some(n) = self.0.get_mut(&id) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    consts.remove(&id);
                }
            }
        }
    }
}

fn distinct_inputs(op: &OperationIr) -> Vec<TensorId> {
    let mut seen = HashSet::new();
    op.inputs().map(|t| t.id).filter(|id| seen.insert(*id)).collect()
}

struct Compiler {
    nodes: Vec<OperationIr>,
    done: Vec<bool>,
    /// Nodes whose constants were released (lowered, possibly fused into an earlier step).
    released: Vec<bool>,
    /// Convolutions (by output) that may take the Winograd path.
    winograd: HashSet<TensorId>,
    uses: ConstUses,
    consts: HashMap<TensorId, TensorData>,
    /// Nodes reading each runtime tensor.
    consumers: HashMap<TensorId, Vec<usize>>,
    output: TensorId,
    places: HashMap<TensorId, Place>,
    /// Inputs of in-place concatenations: where their producer must write them.
    preplaced: HashMap<TensorId, Place>,
    sizes: Vec<usize>,
    steps: Vec<Step>,
    fused: usize,
    weight_values: usize,
}

impl Compiler {
    /// Releases the constants of every node lowered so far (fusion lowers later nodes too).
    fn release_lowered(&mut self) {
        for j in 0..self.nodes.len() {
            if self.done[j] && !self.released[j] {
                self.released[j] = true;
                self.uses.release(&self.nodes[j], &mut self.consts);
            }
        }
    }

    /// A new buffer of `len` values per example.
    fn fresh(&mut self, len: usize) -> Place {
        self.sizes.push(len);
        Place::whole(self.sizes.len() - 1, len)
    }

    /// Where the step producing `id` writes it: its concatenation range, or a new buffer.
    fn new_place(&mut self, id: TensorId, len: usize) -> Place {
        let place = match self.preplaced.remove(&id) {
            Some(place) => place,
            None => self.fresh(len),
        };
        self.places.insert(id, place);
        place
    }

    fn place(&self, id: TensorId) -> Result<Place, PlanError> {
        self.places.get(&id).copied().ok_or_else(|| PlanError::Internal(format!("tensor {id:?} is read before it is computed")))
    }

    fn is_const(&self, id: TensorId) -> bool {
        self.consts.contains_key(&id)
    }

    fn const_values(&self, id: TensorId) -> Option<Vec<f32>> {
        self.const_slice(id).map(<[f32]>::to_vec)
    }

    fn const_slice(&self, id: TensorId) -> Option<&[f32]> {
        self.consts.get(&id).and_then(|d| d.as_slice::<f32>().ok())
    }

    /// The one node reading `id`, when exactly one (not yet lowered) does and `id` is not the output.
    fn single_use(&self, id: TensorId) -> Option<usize> {
        match self.consumers.get(&id).map(Vec::as_slice) {
            Some([j]) if id != self.output && !self.done[*j] => Some(*j),
            _ => None,
        }
    }

    /// Whether `id` may be overwritten by the node `i` reading it.
    fn reusable(&self, id: TensorId, i: usize) -> bool {
        matches!(self.consumers.get(&id).map(Vec::as_slice), Some([j]) if *j == i) && id != self.output
    }

    /// Channel concatenations whose inputs are read by nothing else get their buffer first, so
    /// the steps producing the inputs write into it directly.
    fn place_concatenations(&mut self) {
        for i in 0..self.nodes.len() {
            let OperationIr::BaseFloat(BaseOperationIr::Cat(cat)) = &self.nodes[i] else { continue };
            let ids: Vec<TensorId> = cat.tensors.iter().map(|t| t.id).collect();
            let distinct: HashSet<_> = ids.iter().collect();
            let eligible = cat.dim == 1
                && distinct.len() == ids.len()
                && ids.iter().all(|id| !self.is_const(*id) && self.single_use(*id) == Some(i) && !self.preplaced.contains_key(id));
            if !eligible {
                continue;
            }
            let total = per_example(&cat.out);
            let (out, lens): (TensorId, Vec<usize>) = (cat.out.id, cat.tensors.iter().map(per_example).collect());
            let slot = self.fresh(total).slot;
            let mut offset = 0;
            for (id, len) in ids.into_iter().zip(lens) {
                self.preplaced.insert(id, Place { slot, offset, stride: total, len });
                offset += len;
            }
            self.places.insert(out, Place::whole(slot, total));
            self.done[i] = true;
        }
    }

    /// `(input, output, activation)` of a node that is a plain activation.
    fn activation(&self, node: &OperationIr) -> Option<(TensorId, TensorIr, Activation)> {
        let float = |s: &ScalarIr| match s {
            ScalarIr::Float(v) => Some(*v as f32),
            ScalarIr::Int(v) => Some(*v as f32),
            _ => None,
        };
        match node {
            OperationIr::Activation(ActivationOperationIr::Relu(u)) => Some((u.input.id, u.out.clone(), Activation::Relu)),
            OperationIr::Activation(ActivationOperationIr::Sigmoid(u)) => Some((u.input.id, u.out.clone(), Activation::Sigmoid)),
            OperationIr::NumericFloat(_, NumericOperationIr::Clamp(c)) => {
                Some((c.tensor.id, c.out.clone(), Activation::Clamp { min: float(&c.min)?, max: float(&c.max)? }))
            }
            OperationIr::NumericFloat(_, NumericOperationIr::ClampMin(s)) if float(&s.rhs) == Some(0.0) => {
                Some((s.lhs.id, s.out.clone(), Activation::Relu))
            }
            _ => None,
        }
    }

    /// `(input, output, function)` of a node that is elementwise on one runtime tensor.
    fn elementwise(&self, node: &OperationIr) -> Option<(TensorId, TensorIr, Elementwise)> {
        if let Some((input, out, a)) = self.activation(node) {
            return Some((input, out, Elementwise::Activation(a)));
        }
        let OperationIr::NumericFloat(_, op) = node else { return None };
        let (s, kind) = match op {
            NumericOperationIr::AddScalar(s) => (s, 0),
            NumericOperationIr::SubScalar(s) => (s, 1),
            NumericOperationIr::MulScalar(s) => (s, 2),
            NumericOperationIr::DivScalar(s) => (s, 3),
            _ => return None,
        };
        let ScalarIr::Float(c) = s.rhs else { return None };
        let c = c as f32;
        let (scale, shift) = [(1.0, c), (1.0, -c), (c, 0.0), (1.0 / c, 0.0)][kind];
        Some((s.lhs.id, s.out.clone(), Elementwise::Affine { scale, shift }))
    }

    /// The activation node right after `cur` that an epilogue can take, marked as fused.
    fn fuse_activation(&mut self, cur: &mut TensorIr) -> Activation {
        if let Some(j) = self.single_use(cur.id) {
            if let Some((input, out, a)) = self.activation(&self.nodes[j]) {
                if input == cur.id && kernels::epilogue_supports(a) {
                    self.done[j] = true;
                    self.fused += 1;
                    *cur = out;
                    return a;
                }
            }
        }
        Activation::None
    }

    /// Batch norm (inference) with constant statistics as per-channel `(scale, shift)`.
    fn batch_norm(&self, node: &OperationIr, x: TensorId) -> Option<(Vec<f32>, Vec<f32>, TensorIr)> {
        let OperationIr::Module(ModuleOperationIr::BatchNorm(bn)) = node else { return None };
        if bn.x.id != x {
            return None;
        }
        let ScalarIr::Float(eps) = bn.epsilon else { return None };
        let (gamma, beta) = (self.const_values(bn.gamma.id)?, self.const_values(bn.beta.id)?);
        let (mean, var) = (self.const_values(bn.mean.id)?, self.const_values(bn.variance.id)?);
        let scale: Vec<f32> = gamma.iter().zip(&var).map(|(g, v)| g / (v + eps as f32).sqrt()).collect();
        let shift = beta.iter().zip(&mean).zip(&scale).map(|((b, m), s)| b - m * s).collect();
        Some((scale, shift, bn.out.clone()))
    }

    fn lower(&mut self, i: usize) -> Result<(), PlanError> {
        let node = self.nodes[i].clone();
        match &node {
            OperationIr::Module(ModuleOperationIr::Conv2d(c)) if self.lower_conv(c)? => {}
            OperationIr::Float(_, FloatOperationIr::Matmul(m)) if self.lower_dense(&m.lhs, &m.rhs, None, &m.out)? => {}
            OperationIr::Module(ModuleOperationIr::Linear(l)) if self.lower_dense(&l.x, &l.weight, l.bias.as_ref(), &l.out)? => {}
            OperationIr::Module(ModuleOperationIr::MaxPool2d(p))
                if p.dilation == [1, 1] && !p.ceil_mode && kernels::pool_supports(p.kernel_size, p.stride, p.padding) =>
            {
                let [_, channels, h, w] = dims4(&p.x)?;
                let (input, out) = (self.place(p.x.id)?, self.new_place(p.out.id, per_example(&p.out)));
                let (kernel, stride, padding) = (p.kernel_size, p.stride, p.padding);
                self.steps.push(Step::MaxPool { input, channels, hw: [h, w], kernel, stride, padding, out });
            }
            OperationIr::Module(ModuleOperationIr::AvgPool2d(p))
                if !p.ceil_mode && kernels::pool_supports(p.kernel_size, p.stride, p.padding) =>
            {
                let [_, channels, h, w] = dims4(&p.x)?;
                let (input, out) = (self.place(p.x.id)?, self.new_place(p.out.id, per_example(&p.out)));
                let (kernel, stride, padding, count_include_pad) = (p.kernel_size, p.stride, p.padding, p.count_include_pad);
                self.steps.push(Step::AvgPool { input, channels, hw: [h, w], kernel, stride, padding, count_include_pad, out });
            }
            OperationIr::Module(ModuleOperationIr::AdaptiveAvgPool2d(p)) if p.output_size == [1, 1] => {
                let [_, channels, h, w] = dims4(&p.x)?;
                let (input, out) = (self.place(p.x.id)?, self.new_place(p.out.id, channels));
                self.steps.push(Step::GlobalAverage { input, channels, plane: h * w, out });
            }
            OperationIr::Module(ModuleOperationIr::BatchNorm(bn)) if self.batch_norm(&node, bn.x.id).is_some() => {
                let Some((scale, shift, mut cur)) = self.batch_norm(&node, bn.x.id) else { return Ok(()) };
                let activation = self.fuse_activation(&mut cur);
                let plane = bn.x.shape.iter().skip(2).product();
                self.weight_values += scale.len() + shift.len();
                let (input, out) = self.map_places(bn.x.id, i, &cur)?;
                self.steps.push(Step::ChannelAffine { input, out, plane, scale, shift, activation });
            }
            OperationIr::BaseFloat(BaseOperationIr::Reshape(r)) => {
                let input = self.place(r.input.id)?;
                if input.is_whole() && self.reusable(r.input.id, i) && !self.preplaced.contains_key(&r.out.id) {
                    self.places.insert(r.out.id, input);
                } else {
                    let out = self.new_place(r.out.id, input.len);
                    self.steps.push(Step::Copy { input, out });
                }
            }
            OperationIr::BaseFloat(BaseOperationIr::Cat(cat)) if cat.dim == 1 && cat.tensors.iter().all(|t| !self.is_const(t.id)) => {
                let total = per_example(&cat.out);
                let slot = self.new_place(cat.out.id, total).slot;
                let mut offset = 0;
                for t in &cat.tensors {
                    let (input, len) = (self.place(t.id)?, per_example(t));
                    self.steps.push(Step::Copy { input, out: Place { slot, offset, stride: total, len } });
                    offset += len;
                }
            }
            OperationIr::NumericFloat(_, NumericOperationIr::Add(b))
                if b.lhs.shape == b.rhs.shape && !self.is_const(b.lhs.id) && !self.is_const(b.rhs.id) =>
            {
                let (a, bb) = (self.place(b.lhs.id)?, self.place(b.rhs.id)?);
                let mut cur = b.out.clone();
                let activation = self.fuse_activation(&mut cur);
                let out = self.new_place(cur.id, per_example(&cur));
                self.steps.push(Step::Add { a, b: bb, out, activation });
            }
            OperationIr::Activation(ActivationOperationIr::Softmax(s)) if s.input.shape.iter().skip(s.axis + 1).all(|d| *d == 1) => {
                let (input, out) = self.map_places(s.input.id, i, &s.out)?;
                self.steps.push(Step::Softmax { input, out, row: s.input.shape[s.axis] });
            }
            _ if self.elementwise(&node).is_some() => self.lower_elementwise(i)?,
            _ => self.lower_fallback(node)?,
        }
        Ok(())
    }

    /// Input and output places of an in-place capable step on `input` giving `out`.
    fn map_places(&mut self, input: TensorId, i: usize, out: &TensorIr) -> Result<(Place, Place), PlanError> {
        let place = self.place(input)?;
        if place.is_whole() && self.reusable(input, i) && !self.preplaced.contains_key(&out.id) && out.id != self.output {
            self.places.insert(out.id, place);
            return Ok((place, place));
        }
        Ok((place, self.new_place(out.id, per_example(out))))
    }

    /// A run of elementwise nodes from node `i` as one pass.
    fn lower_elementwise(&mut self, i: usize) -> Result<(), PlanError> {
        let Some((input, mut cur, first)) = self.elementwise(&self.nodes[i]) else { return Ok(()) };
        let mut ops = vec![first];
        while let Some(j) = self.single_use(cur.id) {
            match self.elementwise(&self.nodes[j]) {
                Some((from, out, op)) if from == cur.id => {
                    self.done[j] = true;
                    self.fused += 1;
                    ops.push(op);
                    cur = out;
                }
                _ => break,
            }
        }
        let (input, out) = self.map_places(input, i, &cur)?;
        self.steps.push(Step::Map { input, out, ops: compose(ops) });
        Ok(())
    }

    /// A convolution with constant weights, with batch norm, residual addition and activation
    /// fused in; `false` when the kernels cannot run it.
    fn lower_conv(&mut self, c: &burn::backend::ir::Conv2dOpIr) -> Result<bool, PlanError> {
        let o = &c.options;
        let geometry = Geometry { stride: o.stride, padding: o.padding, dilation: o.dilation, groups: o.groups };
        let Some(weight_len) = self.const_slice(c.weight.id).map(<[f32]>::len) else { return Ok(false) };
        let bias = match &c.bias {
            Some(b) => match self.const_values(b.id) {
                Some(v) => Some(v),
                None => return Ok(false),
            },
            None => None,
        };
        if !kernels::conv_supports(&geometry) || c.weight.shape.len() != 4 {
            return Ok(false);
        }
        let shape: [usize; 4] = [c.weight.shape[0], c.weight.shape[1], c.weight.shape[2], c.weight.shape[3]];
        let [_, _, h, w] = dims4(&c.x)?;
        let mut bias = bias.unwrap_or_else(|| vec![0.0; shape[0]]);
        let mut cur = c.out.clone();
        // A copy of the weights only to fold a batch norm into: otherwise the kernel packs
        // straight from the constant (no layer is ever held three times).
        let mut folded = None;
        if let Some(j) = self.single_use(cur.id) {
            if let Some((scale, shift, out)) = self.batch_norm(&self.nodes[j], cur.id) {
                let mut weight = self.const_values(c.weight.id).unwrap_or_default();
                let per = weight_len / shape[0];
                for (o, row) in weight.chunks_exact_mut(per).enumerate() {
                    row.iter_mut().for_each(|v| *v *= scale[o]);
                    bias[o] = bias[o] * scale[o] + shift[o];
                }
                folded = Some(weight);
                self.done[j] = true;
                self.fused += 1;
                cur = out;
            }
        }
        let mut residual = None;
        if kernels::EPILOGUE_RESIDUAL {
            if let Some(j) = self.single_use(cur.id) {
                if let OperationIr::NumericFloat(_, NumericOperationIr::Add(b)) = &self.nodes[j] {
                    let other = if b.lhs.id == cur.id { &b.rhs } else { &b.lhs };
                    let computed = self.places.get(&other.id).copied().filter(Place::is_whole);
                    if b.lhs.shape == b.rhs.shape && b.lhs.id != b.rhs.id && computed.is_some() {
                        residual = computed;
                        let out = b.out.clone();
                        self.done[j] = true;
                        self.fused += 1;
                        cur = out;
                    }
                }
            }
        }
        let activation = self.fuse_activation(&mut cur);
        self.weight_values += weight_len + bias.len();
        let winograd = self.winograd.contains(&c.out.id);
        let weight = match &folded {
            Some(w) => w.as_slice(),
            None => self.const_slice(c.weight.id).unwrap_or_default(),
        };
        let conv = kernels::conv(weight, shape, &bias, &geometry, activation, winograd)?;
        let input = self.place(c.x.id)?;
        let out = self.new_place(cur.id, per_example(&cur));
        self.steps.push(Step::Conv { conv, input, hw: [h, w], residual, out });
        Ok(true)
    }

    /// `[1, k] x [k, m]` with constant weights (and bias), activation fused; `false` otherwise.
    fn lower_dense(&mut self, x: &TensorIr, weight: &TensorIr, bias: Option<&TensorIr>, out: &TensorIr) -> Result<bool, PlanError> {
        let ([1, k], [k2, m]) = (x.shape.as_slice(), weight.shape.as_slice()) else { return Ok(false) };
        let (k, m) = (*k, *m);
        // Read in place, not copied: the classifier's matrix is often the network's largest.
        let Some(w_len) = self.const_slice(weight.id).map(<[f32]>::len).filter(|_| k == *k2) else { return Ok(false) };
        let mut bias = match bias {
            Some(b) => match self.const_values(b.id).filter(|v| v.len() == m) {
                Some(v) => Some(v),
                None => return Ok(false),
            },
            None => None,
        };
        let mut cur = out.clone();
        if bias.is_none() {
            if let Some(j) = self.single_use(cur.id) {
                if let OperationIr::NumericFloat(_, NumericOperationIr::Add(b)) = &self.nodes[j] {
                    let other = if b.lhs.id == cur.id { &b.rhs } else { &b.lhs };
                    if let Some(v) = self.const_values(other.id).filter(|v| v.len() == m && b.out.shape == cur.shape) {
                        bias = Some(v);
                        let out = b.out.clone();
                        self.done[j] = true;
                        self.fused += 1;
                        cur = out;
                    }
                }
            }
        }
        let activation = self.fuse_activation(&mut cur);
        self.weight_values += w_len + bias.as_ref().map_or(0, Vec::len);
        let w = self.const_slice(weight.id).ok_or_else(|| PlanError::Internal("the dense weight went missing".into()))?;
        let dense = kernels::dense(w, [k, m], bias.as_deref(), activation)?;
        let input = self.place(x.id)?;
        let out = self.new_place(cur.id, m);
        self.steps.push(Step::Dense { dense, input, out });
        Ok(true)
    }

    /// An operation the kernels do not cover, run through Burn.
    fn lower_fallback(&mut self, op: OperationIr) -> Result<(), PlanError> {
        let name = op_name(&op);
        let mut inputs = Vec::new();
        let mut constants = Vec::new();
        let mut seen = HashSet::new();
        for t in op.inputs() {
            if !seen.insert(t.id) {
                continue;
            }
            match self.consts.get(&t.id) {
                Some(data) => {
                    self.weight_values += data.num_elements();
                    constants.push((t.id, data.clone()));
                }
                None => inputs.push(Bound { id: t.id, shape: t.shape.to_vec(), place: self.place(t.id)? }),
            }
        }
        let outs: Vec<TensorIr> = op.outputs().cloned().collect();
        let outputs =
            outs.iter().map(|t| Bound { id: t.id, shape: t.shape.to_vec(), place: self.new_place(t.id, per_example(t)) }).collect();
        self.steps.push(Step::Fallback(Box::new(Fallback { op, name, inputs, constants, outputs })));
        Ok(())
    }
}

/// Consecutive affine maps composed into one (`(x*a + b)*c + d = x*ac + (bc + d)`).
fn compose(ops: Vec<Elementwise>) -> Vec<Elementwise> {
    let mut out: Vec<Elementwise> = Vec::new();
    for op in ops {
        match (out.last_mut(), op) {
            (Some(Elementwise::Affine { scale, shift }), Elementwise::Affine { scale: c, shift: d }) => {
                *scale *= c;
                *shift = *shift * c + d;
            }
            _ => out.push(op),
        }
    }
    out
}

fn dims4(t: &TensorIr) -> Result<[usize; 4], PlanError> {
    t.shape.as_slice().try_into().map_err(|_| PlanError::Internal(format!("expected a 4-d tensor, got {:?}", t.shape.as_slice())))
}
