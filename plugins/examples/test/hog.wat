;; HOG key: grows its memory 1 MiB at a time until refused.
(module
  (import "frys" "plugin" (func $plugin (param i32 i32 i32)))
  (import "frys" "command" (func $command (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "frys" "reply_integer" (func $int (param i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hog")
  (func (export "frys_abi_version") (result i32) i32.const 1)
  (func (export "frys_init")
    (call $plugin (i32.const 0) (i32.const 3) (i32.const 1))
    (drop (call $command (i32.const 0) (i32.const 3) (i32.const 2) (i32.const 2) (i32.const 1) (i32.const 1) (i32.const 1))))
  (func (export "frys_call") (param i32) (result i32)
    (block $refused
      (loop $more
        (br_if $refused (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
        (br $more)))
    (drop (call $int (i64.extend_i32_u (memory.size))))
    i32.const 0))
