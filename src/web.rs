//! The wasm-bindgen facade: the only file that touches `wasm_bindgen`, `js_sys` and the browser.
//!
//! JavaScript sees `createSession(weights, backend, architecture, cpuKernels)`, a `Session` with `predict`,
//! `info` and `free`, `prepareDigit` / `prepareImage` for turning canvas pixels into model
//! input, `checkManifest` (can this runtime run a manifest), `runtimeVersion` and
//! `availableBackends`. Every failure is an `Error` whose message comes from [`RuntimeError`].

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Once;

use js_sys::{Array, Float32Array, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::{BackendPreference, CpuKernels, RuntimeError, WebGpuDevice};

static INIT: Once = Once::new();

/// Runs the module's static constructors exactly once and installs the panic hook.
///
/// wasm-ld wraps every export in a call to all constructors unless the module calls
/// `__wasm_call_ctors` itself; cubecl registers types in constructors, so without this each
/// call into the module pays for all of them (and WebGPU breaks). wasm-bindgen tests do not
/// run the start function and must call this first.
pub fn ensure_initialised() {
    INIT.call_once(|| {
        extern "C" {
            fn __wasm_call_ctors();
        }
        // SAFETY: called once, before any other Rust code relies on constructor state.
        unsafe { __wasm_call_ctors() };
        console_error_panic_hook::set_once();
    });
}

#[wasm_bindgen(start)]
fn start() {
    ensure_initialised();
}

thread_local! {
    /// Burn's wgpu runtime initialises once per page; every session shares its device.
    static WEBGPU: RefCell<Option<WebGpuDevice>> = const { RefCell::new(None) };
}

fn js_error(err: RuntimeError) -> JsError {
    JsError::new(&err.to_string())
}

/// A model session on WebGPU or the CPU.
#[wasm_bindgen]
pub struct Session {
    inner: Rc<crate::Session>,
}

/// Creates a session from Burnpack weight bytes (read in place: the file stays in JavaScript's
/// memory and each tensor is copied into the module once); `backend` is `"auto"`, `"webgpu"` or `"cpu"`;
/// `architecture` is the manifest's id (default `"mnist-cnn"`); `cpuKernels` is `"auto"`
/// (burn-edge's own where the architecture has them, the default) or `"burn"`.
#[wasm_bindgen(js_name = createSession)]
pub async fn create_session(
    weights: Uint8Array,
    backend: String,
    architecture: Option<String>,
    cpu_kernels: Option<String>,
) -> Result<Session, JsError> {
    ensure_initialised();
    let preference: BackendPreference = backend.parse().map_err(js_error)?;
    let kernels: CpuKernels = cpu_kernels.as_deref().unwrap_or("auto").parse().map_err(js_error)?;
    let architecture = crate::architecture(architecture.as_deref().unwrap_or(burn_edge_model::MNIST_ARCHITECTURE)).map_err(js_error)?;
    let session =
        crate::Session::create_from(architecture, JsWeights(weights), preference, kernels, acquire_webgpu).await.map_err(js_error)?;
    Ok(Session { inner: Rc::new(session) })
}

/// A weights file in JavaScript's memory, read a range at a time.
struct JsWeights(Uint8Array);

impl burn_edge_model::WeightSource for JsWeights {
    fn len(&self) -> usize {
        self.0.length() as usize
    }

    fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), String> {
        let end = offset.checked_add(out.len()).filter(|&end| end <= self.len());
        let (Ok(start), Some(Ok(end))) = (u32::try_from(offset), end.map(u32::try_from)) else {
            return Err(format!("bytes {offset}..+{} are outside the {}-byte file", out.len(), self.len()));
        };
        self.0.subarray(start, end).copy_to(out);
        Ok(())
    }
}

#[wasm_bindgen]
impl Session {
    /// The model's outputs (`batch * outputs` class probabilities) for `batch` examples of the
    /// manifest's input shape, flat in one Float32Array (MNIST: 28x28 images; a tabular model:
    /// its feature rows).
    #[wasm_bindgen(unchecked_return_type = "Promise<Float32Array>")]
    pub fn predict(&self, input: Vec<f32>) -> Promise {
        let inner = Rc::clone(&self.inner);
        wasm_bindgen_futures::future_to_promise(async move {
            let probs = inner.predict_owned(input).await.map_err(js_error)?;
            Ok(Float32Array::from(probs.as_slice()).into())
        })
    }

    /// Which backend runs, its adapter, why other backends were skipped, and the model.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let json = serde_json::to_string(&self.inner.info()).map_err(|e| JsError::new(&e.to_string()))?;
        js_sys::JSON::parse(&json).map_err(|_| JsError::new("could not build the info object"))
    }
}

/// MNIST-framed input (784 values) from RGBA pixels of any size, e.g. a canvas' ImageData.
#[wasm_bindgen(js_name = prepareDigit)]
pub fn prepare_digit(rgba: &[u8], width: usize, height: usize) -> Result<Vec<f32>, JsError> {
    burn_edge_model::digit_from_rgba(rgba, width, height).map_err(|e| js_error(e.into()))
}

/// Model input (planar, per the manifest's input schema given as JSON) from RGBA pixels of any
/// size, e.g. an `ImageData` drawn from an `<img>` or `ImageBitmap`.
#[wasm_bindgen(js_name = prepareImage)]
pub fn prepare_image(rgba: &[u8], width: usize, height: usize, input_schema: String) -> Result<Vec<f32>, JsError> {
    crate::prepare_image(rgba, width, height, &input_schema).map_err(js_error)
}

/// Proves WebGPU step by step so the reason for a failure is precise:
/// `navigator.gpu`, an adapter (whose info is read from JS, as wgpu leaves it empty in the
/// browser), then Burn's device on the WebGPU graphics API.
async fn acquire_webgpu() -> Result<WebGpuDevice, String> {
    if let Some(gpu) = WEBGPU.with(|slot| slot.borrow().clone()) {
        return Ok(gpu);
    }
    let adapter = request_adapter().await?;
    let device = init_burn_webgpu().await?;
    let gpu = WebGpuDevice { device, adapter };
    WEBGPU.with(|slot| *slot.borrow_mut() = Some(gpu.clone()));
    Ok(gpu)
}

#[cfg(feature = "webgpu")]
async fn init_burn_webgpu() -> Result<burn::tensor::Device, String> {
    burn::tensor::Device::wgpu_options()
        .graphics_api(burn::tensor::wgpu::WgpuBackend::WebGpu)
        .init_async()
        .await
        .map_err(|e| format!("WebGPU device initialisation failed: {e}"))
}

#[cfg(not(feature = "webgpu"))]
async fn init_burn_webgpu() -> Result<burn::tensor::Device, String> {
    Err("this is the CPU-only build of the runtime".into())
}

async fn request_adapter() -> Result<serde_json::Value, String> {
    let global = js_sys::global();
    let navigator = Reflect::get(&global, &"navigator".into()).unwrap_or(JsValue::UNDEFINED);
    let gpu = Reflect::get(&navigator, &"gpu".into()).unwrap_or(JsValue::UNDEFINED);
    if gpu.is_undefined() || gpu.is_null() {
        return Err("navigator.gpu is missing: this browser or context has no WebGPU".into());
    }
    let request: Function = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or("navigator.gpu.requestAdapter is not a function")?;
    let promise: Promise =
        request.call0(&gpu).ok().and_then(|p| p.dyn_into().ok()).ok_or("navigator.gpu.requestAdapter() did not return a promise")?;
    let adapter = JsFuture::from(promise).await.map_err(|e| format!("navigator.gpu.requestAdapter() failed: {}", describe(&e)))?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err("no WebGPU adapter available (navigator.gpu.requestAdapter() returned null)".into());
    }
    let info = Reflect::get(&adapter, &"info".into()).unwrap_or(JsValue::UNDEFINED);
    let field = |name: &str| Reflect::get(&info, &name.into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
    let fallback = Reflect::get(&info, &"isFallbackAdapter".into())
        .ok()
        .or_else(|| Reflect::get(&adapter, &"isFallbackAdapter".into()).ok())
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    Ok(serde_json::json!({
        "vendor": field("vendor"),
        "architecture": field("architecture"),
        "device": field("device"),
        "description": field("description"),
        "isFallbackAdapter": fallback,
    }))
}

fn describe(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

/// Checks a manifest (JSON text) against this runtime: schema, architecture, minimum runtime
/// version. Throws an `Error` naming what does not fit.
#[wasm_bindgen(js_name = checkManifest)]
pub fn check_manifest(json: &str) -> Result<(), JsError> {
    crate::check_manifest(json).map(drop).map_err(js_error)
}

/// Which weights file of a manifest (JSON text) this runtime loads, as an index into its
/// `files`: the variant `variant` if given (refused when missing or not runnable here), else
/// the runnable one best for `preference` (`smallest`, `fastest`, `accurate`). `capabilities`:
/// what the page knows the device has beyond this build's own (e.g. `shader-f16`).
#[wasm_bindgen(js_name = chooseWeights)]
pub fn choose_weights(json: &str, capabilities: Vec<String>, preference: &str, variant: Option<String>) -> Result<usize, JsError> {
    let capabilities: Vec<&str> = capabilities.iter().map(String::as_str).collect();
    crate::choose_weights(json, &capabilities, preference, variant.as_deref()).map_err(js_error)
}

/// This runtime's version (the npm package's).
#[wasm_bindgen(js_name = runtimeVersion)]
pub fn runtime_version() -> String {
    crate::RUNTIME_VERSION.into()
}

/// The names of the backends compiled into this build, best first.
#[wasm_bindgen(js_name = availableBackends)]
pub fn available_backends() -> Array {
    let list = Array::new();
    if cfg!(feature = "webgpu") {
        list.push(&"webgpu".into());
    }
    list.push(&"cpu".into());
    list
}
