//! Session creation's peak heap, natively: what the runtime holds at once while it decodes the
//! weights, captures and compiles the plan and warms up (the wasm module's memory never
//! shrinks, so this peak is what a page pays). Allocation is deterministic natively, so this
//! is a regression test, not a timing. The goal is `1.5 x weights + the largest
//! activation`; today the file and the packed kernels coexist at the end of compilation
//! (about 2x the weights), which the bound below holds the runtime to.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use burn_edge::{BackendPreference, CpuKernels, Session, WebGpuDevice};
use burn_edge_model::registry::architectures;
use pollster::block_on;

/// The system allocator, counting the bytes live now and the most live at once.
struct Counting;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = NOW.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        NOW.fetch_sub(layout.size(), Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

async fn no_webgpu() -> Result<WebGpuDevice, String> {
    Err("no WebGPU (test)".into())
}

#[test]
fn creating_a_session_holds_the_weights_about_twice_at_most_and_once_after() {
    for architecture in architectures() {
        let weights = architecture.init(&burn::prelude::Device::flex()).save().unwrap();
        let file = weights.len();
        // The file is counted: in wasm it sits in the module's memory too.
        let base = NOW.load(Relaxed) - file;
        PEAK.store(NOW.load(Relaxed), Relaxed);
        let session = block_on(Session::create(*architecture, weights, BackendPreference::Cpu, CpuKernels::Auto, no_webgpu)).unwrap();
        let (peak, held) = (PEAK.load(Relaxed) - base, NOW.load(Relaxed) - base);
        let plan = session.info().plan.expect("every architecture compiles");
        let activation = plan.largest_activation_bytes;
        let goal = file * 3 / 2 + activation;
        eprintln!(
            "{:<16} weights {file:>9} B  peak {peak:>9} B ({:.2}x)  held {held:>9} B ({:.2}x)  goal 1.5x+activation {goal:>9} B: {}",
            architecture.id(),
            peak as f64 / file as f64,
            held as f64 / file as f64,
            if peak <= goal { "met" } else { "over" },
        );
        // Each weight once after creation (Winograd's transforms may add a quarter).
        assert!(held <= file * 5 / 4 + 64 * 1024, "{}: {held} B held after creation for {file} B of weights", architecture.id());
        // The creation peak: the file and the packed weights, plus the warm-up's activations.
        let bound = file * 2 + file / 10 + 3 * activation + 256 * 1024;
        assert!(peak <= bound, "{}: creation peak {peak} B over {bound} B", architecture.id());
        drop(session);
    }
}
