"""Deal scoring: point-in-time features, calibrated XGBoost, SHAP reasons, registry."""
