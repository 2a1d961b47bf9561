;; Claims ABI version 4: refused at load.
(module
  (memory (export "memory") 1)
  (func (export "frys_abi_version") (result i32) i32.const 4)
  (func (export "frys_init"))
  (func (export "frys_call") (param i32) (result i32) i32.const 0))
