; Call sites and imports the Python linter looks at. The scanner resolves the callee's dotted
; name through the imports it captured, so a call counts only when the name is bound by an
; import of einops (`import einops as E`, `from einops import rearrange as r`, ...).

(import_statement) @import
(import_from_statement) @import

(call
  function: [(identifier) (attribute)] @callee
  arguments: (argument_list) @args) @call

; `# einc: ignore[EIN001]` suppression comments
(comment) @comment
