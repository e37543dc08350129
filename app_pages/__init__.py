"""Pages of the steplab Streamlit dashboard (routed by app.py with st.navigation)."""
