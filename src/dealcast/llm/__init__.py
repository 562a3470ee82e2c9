"""Optional LLM features (LangChain lives here, never in `risk/`); everything degrades to
the rules when no LLM is configured or a call fails."""
