;; SPIN key: loops for ever (stopped at its deadline).
(module
  (import "frys" "plugin" (func $plugin (param i32 i32 i32)))
  (import "frys" "command" (func $command (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "spin")
  (func (export "frys_abi_version") (result i32) i32.const 1)
  (func (export "frys_init")
    (call $plugin (i32.const 0) (i32.const 4) (i32.const 1))
    (drop (call $command (i32.const 0) (i32.const 4) (i32.const 2) (i32.const 2) (i32.const 1) (i32.const 1) (i32.const 1))))
  (func (export "frys_call") (param i32) (result i32)
    (loop $forever (br $forever))
    i32.const 0))
