/*
 * Loads and stores of the activation dtype, picked by the build option -DEINC_DT_F32,
 * -DEINC_DT_BF16 or -DEINC_DT_F16. bfloat16 is carried as ushort with round-to-nearest-even
 * stores; float16 goes through vload_half / vstore_half_rte, which need no cl_khr_fp16.
 */
#if defined(EINC_DT_F32)
typedef float act_t;
#define LOAD(p, i) ((p)[i])
#define STORE(p, i, v) ((p)[i] = (v))
#elif defined(EINC_DT_BF16)
typedef ushort act_t;
#define LOAD(p, i) as_float((uint)(p)[i] << 16)
inline ushort einc_to_bf16(float v) {
  uint u = as_uint(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (ushort)(u >> 16);
}
#define STORE(p, i, v) ((p)[i] = einc_to_bf16(v))
#elif defined(EINC_DT_F16)
typedef half act_t;
#define LOAD(p, i) vload_half((i), (p))
#define STORE(p, i, v) vstore_half_rte((v), (i), (p))
#else
#error "build with -DEINC_DT_F32, -DEINC_DT_BF16 or -DEINC_DT_F16"
#endif
